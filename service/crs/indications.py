"""What the protocol indicates now, computed once per assessment and carried on the situation, so that the
management rules (what the card suggests) and the order checks (what a draft is held against) read one answer:
the steroid regimens that apply (most intensive first, M-STEROID-SELECT), M-ICANS and its tocilizumab veto,
M-EARLY-STEROID and the M-G2-DEX evidence."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from service.crs.episode import Episode
from service.crs.grading import GradeResult
from service.crs.history import car_t_infusions
from service.crs.steroids import Regimen, candidate_regimens, hypotension_persists

if TYPE_CHECKING:
    from service.crs.findings import Situation


@dataclass(frozen=True)
class Indications:
    icans_with_crs: bool  # M-ICANS: ICANS grade >= 2 with CRS grade >= 1
    icans_veto: bool  # M-ICANS: grade 1 CRS, ICANS >= 2, managed grade < 3: steroids, NOT tocilizumab
    early_product: bool  # M-EARLY-STEROID: axicabtagene or brexucabtagene ciloleucel
    dex_evidence: bool  # M-G2-DEX: hypotension persists after two boluses and tocilizumab
    regimens: tuple[Regimen, ...]


def indications_of(
    ctx: Episode, now: datetime, current: GradeResult, managed: int | None, icans_grade: int | None
) -> Indications:
    icans = icans_grade or 0
    icans_with_crs = icans >= 2 and (current.grade or 0) >= 1
    veto = current.grade == 1 and icans >= 2 and (managed or 0) < 3
    early = _early_steroid_product(ctx, now)
    dex_evidence = managed == 2 and hypotension_persists(ctx, now)
    regimens = candidate_regimens(ctx, managed, icans_with_crs, early, dex_evidence)
    return Indications(icans_with_crs, veto, early, dex_evidence, tuple(regimens))


def with_grade(situation: Situation, current: GradeResult, managed: int | None) -> Situation:
    """The situation at another grade (C3-FEVER-UNKNOWN's febrile what-if), its indications recomputed."""
    ctx, now = situation.ctx, situation.now
    indications = indications_of(ctx, now, current, managed, situation.icans_grade)
    return replace(situation, current=current, managed=managed, indications=indications)


def _early_steroid_product(ctx: Episode, now: datetime) -> bool:
    infusions = car_t_infusions(ctx, now)
    return bool(infusions) and ctx.policy.drugs[infusions[0].drug].early_steroid
