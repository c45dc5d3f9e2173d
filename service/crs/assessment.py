"""The engine's answer: one Assessment per call, serialisable to JSON for cards, audit and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, SkipValidation

from service.crs.frozen import FrozenModel

Indicator = Literal["info", "warning", "critical"]
INDICATOR_RANK: dict[Indicator, int] = {"info": 0, "warning": 1, "critical": 2}


Param = str | int | float | datetime | tuple[str, ...]
"""A wording parameter: numbers and times stay values, so the card renders them (site time zone, policy numbers)."""
Params = SkipValidation[dict[str, Param]]
"""A note's parameters, kept as the engine gives them. Every one is built by the engine from typed values (mypy
strict checks each ``Param``), so validating it would only copy the dict, at a third of a note's cost on every
call; ``test_speedups_change_no_result`` checks that validation would give back the same values."""


class Note(FrozenModel):
    """Something a clinician reads, traced to its rule: a wording ``key`` of the card catalog and its ``params``.

    The engine writes no prose: the catalog's text for ``key`` (cards/texts.toml, overridable per site) renders
    the note. ``parts`` are sub-notes a text lists (e.g. every limit that blocks a dose).
    """

    rule: str
    key: str
    params: Params = Field(default_factory=dict)
    parts: tuple[Note, ...] = ()


def note(rule: str, key: str | None = None, parts: tuple[Note, ...] = (), /, **params: Param) -> Note:
    """A note; ``key`` defaults to the rule ID (the rule's one wording)."""
    return Note(rule=rule, key=key or rule, params=params, parts=parts)


class EvidenceItem(FrozenModel):
    rule: str
    key: str
    params: Params = Field(default_factory=dict)
    at: datetime | None = None
    sources: tuple[str, ...] = ()


class RecommendedOrder(FrozenModel):
    """An order to suggest: dose in mg, or mg/kg when the weight is missing (never a guessed mg dose)."""

    rule: str
    drug: str
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    interval_hours: float | None = Field(default=None, description="None: a single dose")
    interval_max_hours: float | None = None
    max_doses: int | None = None
    duration_days: float | None = Field(default=None, description="first step of a course, e.g. 3 days")
    infusion_minutes: int | None = None
    key: str = Field(description="wording of the order's full text (dose basis, repeat criteria, reason, dose notes)")
    params: Params = Field(default_factory=dict)
    notes: tuple[Note, ...] = Field(default=(), description="dose notes that sit with the dose")
    is_recommended: bool = True

    def wording(self) -> Note:
        return Note(rule=self.rule, key=self.key, params=self.params, parts=self.notes)


class WithheldOrder(FrozenModel):
    """An order the protocol would call for that is not suggested now: every reason, and when it may be."""

    rule: str
    drug: str
    reasons: tuple[Note, ...]
    next_allowed_at: datetime | None = None


class HlhStatus(FrozenModel):
    suspected: bool
    ferritin_ng_ml: float | None = None
    organ_findings: tuple[Note, ...] = ()
    first_met_at: datetime | None = None
    consider_hlh2004: bool = False
    ferritin_above_ng_ml: float | None = Field(default=None, description="the policy's threshold, for the card")
    hlh2004_after_hours: float | None = Field(default=None, description="the policy's wait, for the card")


class Assessment(FrozenModel):
    as_of: datetime
    policy_version: str
    in_scope: bool
    t0: datetime | None = None
    car_t_product: str | None = None
    grade: int | None = None
    possible_grade: int | None = Field(default=None, description="C3-FEVER-UNKNOWN: the grade if febrile")
    managed_grade: int | None = None
    fever: bool | None = None
    hypotension_class: int | None = None
    hypoxia_class: int | None = None
    unknown_classes: tuple[str, ...] = ()
    icans_grade: int | None = None
    hlh: HlhStatus | None = None
    rules: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    evidence: tuple[EvidenceItem, ...] = ()
    recommended: tuple[RecommendedOrder, ...] = ()
    withheld: tuple[WithheldOrder, ...] = ()
    next_steps: tuple[Note, ...] = ()
    reminders: tuple[Note, ...] = ()
    data_quality: tuple[Note, ...] = ()
    flag_notes: tuple[Note, ...] = Field(default=(), description="the wording of each flag, with its policy values")
    indicator: Indicator = "info"
    time_zone: str = Field(default="UTC", description="the policy's zone: cards show times in it")
