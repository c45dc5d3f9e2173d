"""Corticosteroid planning (M-STEROID-SELECT and the steroid parts of M-G2-DEX, M-G3, M-G4, M-HLH,
M-ICANS, M-EARLY-STEROID, M-ACTIVE-ORDER): at most one steroid suggestion, its wording and the taper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.crs.assessment import RecommendedOrder
from service.crs.evidence import fmt_number, fmt_time
from service.crs.findings import Findings, Situation
from service.crs.history import car_t_infusions
from service.crs.steroids import (
    Regimen,
    RunningSteroid,
    TaperPosition,
    candidate_regimens,
    high_dose_running_without_response,
    hypotension_persists,
    running_steroids,
    steroid_doses,
    taper_position,
)

STEROID_LABEL = {"dexamethasone": "Dexamethasone", "methylprednisolone": "Methylprednisolone"}


@dataclass(frozen=True)
class SteroidIndications:
    """Which steroid rules apply, and their regimens most intensive first (shared with the order checks)."""

    icans_with_crs: bool
    early_product: bool
    dex_evidence: bool
    regimens: list[Regimen]


def steroid_indications(situation: Situation) -> SteroidIndications:
    ctx, now = situation.ctx, situation.now
    icans_with_crs = (situation.icans_grade or 0) >= 2 and (situation.current.grade or 0) >= 1  # M-ICANS
    early = _early_steroid_product(situation)  # M-EARLY-STEROID
    dex_evidence = situation.managed == 2 and hypotension_persists(ctx, now)  # M-G2-DEX
    regimens = candidate_regimens(ctx, situation.managed, icans_with_crs, early, dex_evidence)
    return SteroidIndications(icans_with_crs, early, dex_evidence, regimens)


def plan_steroids(situation: Situation, findings: Findings) -> bool:
    """M-STEROID-SELECT: at most one steroid suggestion. True if one was suggested."""
    ctx, now = situation.ctx, situation.now
    indications = steroid_indications(situation)
    icans_with_crs, regimens = indications.icans_with_crs, indications.regimens
    if situation.managed == 2 and not (indications.dex_evidence or indications.early_product or icans_with_crs):
        findings.step(
            "M-G2-DEX",
            "Next step if hypotension persists after two fluid boluses and 1-2 tocilizumab doses: "
            "dexamethasone 10 mg IV every 12 h for 1-2 doses.",
            key="M-G2-DEX.next-step",
        )
    if icans_with_crs:  # M-ICANS applies; M-STEROID-SELECT may still pick a more intensive regimen
        findings.fire("M-ICANS")
    if icans_with_crs and (situation.icans_grade or 0) >= 3:
        findings.step("M-ICANS", "ICANS grade >= 3: follow the institutional ICANS protocol.", key="M-ICANS.protocol")
    taper = taper_position(ctx, now)
    if taper is not None:  # M-STEROID-SELECT: methylprednisolone given in 24 h
        findings.fire("M-STEROID-SELECT")
        text = taper_text(situation, taper)
        findings.step("M-G4", text, key="M-G4.taper-today", taper=text)
    if high_dose_running_without_response(ctx, situation.current.grade, now):  # M-G4 escalation
        regimens = [escalation_regimen(situation)]
    if not regimens:
        _taper_rapidly(situation, findings)
        return False
    chosen = regimens[0]
    findings.fire("M-STEROID-SELECT")
    findings.fire(chosen.rule)
    if taper is not None and not chosen.is_escalation:  # M-G4: the taper statement is the one statement
        if chosen.drug == "dexamethasone":
            findings.step(
                "M-STEROID-SELECT",
                "Methylprednisolone is running: follow its taper; no dexamethasone in addition.",
                key="M-STEROID-SELECT.methylprednisolone-running",
            )
        return False
    return _suggest_unless_running(situation, findings, chosen, taper is not None)


def escalation_regimen(situation: Situation) -> Regimen:
    steroids = situation.ctx.policy.steroids
    return Regimen(
        "M-G4",
        "methylprednisolone",
        steroids.methylprednisolone_escalation_mg,
        steroids.methylprednisolone_taper[0].interval_hours,
        is_escalation=True,
    )


def _suggest_unless_running(situation: Situation, findings: Findings, chosen: Regimen, tapering: bool) -> bool:
    """M-ACTIVE-ORDER: continue a running regimen at least as intensive; name a weaker one and suggest."""
    policy = situation.ctx.policy
    running = sorted(running_steroids(situation.ctx, chosen, situation.now), key=_newest_first)
    same = [item for item in running if item.at_least(chosen, policy)]
    if same:
        if not tapering:  # an escalation already given is told by the taper statement
            described = describe_running(same[0])
            findings.step("M-ACTIVE-ORDER", f"Continue {described}.", regimen=described)
        return False
    if running and not chosen.is_escalation:
        described, protocol = describe_running(running[0]), _regimen_text(chosen)
        findings.step(
            "M-ACTIVE-ORDER",
            f"Running: {described}, less intensive than the protocol's {protocol}: "
            "replace it with the suggested order.",
            key="M-ACTIVE-ORDER.less-intensive",
            running=described,
            regimen=protocol,
        )
    findings.recommended.append(_recommended(chosen))
    return True


def _newest_first(item: RunningSteroid) -> tuple[bool, float]:
    return item.since is None, -(item.since.timestamp() if item.since else 0)


def describe_running(item: RunningSteroid) -> str:
    """A running regimen by drug, dose, interval and time, never by a FHIR id."""
    dose = f"{fmt_number(item.dose_mg)} mg" if item.dose_mg is not None else "(dose not documented)"
    interval = f" every {fmt_number(item.interval_hours)} h" if item.interval_hours else ""
    when = f"ordered {fmt_time(item.since)}" if item.ordered else f"last given {fmt_time(item.since)}"
    return f"{item.drug} {dose}{interval}, {when}"


def _recommended(chosen: Regimen) -> RecommendedOrder:
    return RecommendedOrder(
        rule=chosen.rule,
        drug=chosen.drug,
        dose_mg=chosen.dose_mg,
        interval_hours=chosen.interval_hours,
        interval_max_hours=chosen.interval_max_hours,
        max_doses=chosen.max_doses,
        duration_days=chosen.duration_days,
        text=_regimen_text(chosen) + _regimen_reason(chosen),
        is_recommended=not chosen.is_escalation,
    )


def _early_steroid_product(situation: Situation) -> bool:
    ctx = situation.ctx
    infusions = car_t_infusions(ctx, situation.now)
    return bool(infusions) and ctx.policy.drugs[infusions[0].drug].early_steroid


def _taper_rapidly(situation: Situation, findings: Findings) -> None:
    """M-STEROID-SELECT: a steroid in the last 24 h with managed grade <= 1 and no ICANS >= 2."""
    recent = steroid_doses(situation.ctx, situation.now, timedelta(hours=24))
    if recent and (situation.managed or 0) <= 1 and (situation.icans_grade or 0) < 2 and situation.managed is not None:
        findings.step(
            "M-STEROID-SELECT",
            "A corticosteroid was given in the last 24 h and the grade is <= 1: taper rapidly.",
            key="M-STEROID-SELECT.taper-rapidly",
        )


def _regimen_text(regimen: Regimen) -> str:
    frequency = f"every {regimen.interval_hours:g}"
    if regimen.interval_max_hours:
        frequency += f"-{regimen.interval_max_hours:g}"
    text = f"{STEROID_LABEL[regimen.drug]} {fmt_number(regimen.dose_mg)} mg IV {frequency} h"
    if regimen.max_doses:
        text += f" for 1-{regimen.max_doses} doses"
    return text


REGIMEN_REASONS = {
    "M-G4": ": grade 4 CRS, high-dose methylprednisolone for 3 days, then taper.",
    "M-G3": ": grade 3 CRS management (or an equivalent corticosteroid); taper rapidly once improved.",
    "M-HLH": ": suspected HLH, managed as grade 3 CRS.",
    "M-ICANS": " (repeat every 6-12 h by neurologic status): ICANS grade >= 2 with CRS.",
    "M-EARLY-STEROID": (
        ": earlier steroid use reduces CRS severity with this CAR T product; do not wait for refractory hypotension."
    ),
    "M-G2-DEX": ": hypotension persists after two fluid boluses and tocilizumab.",
}


def _regimen_reason(regimen: Regimen) -> str:
    if regimen.is_escalation:
        return (
            ": consider when grade 4 persists after 24 h of methylprednisolone; "
            "or an alternative agent per the institutional protocol."
        )
    return REGIMEN_REASONS[regimen.rule]


def taper_text(situation: Situation, taper: TaperPosition | None) -> str:
    """M-G4: the whole methylprednisolone taper; when it is running, one statement of today's step first."""
    steps = situation.ctx.policy.steroids.methylprednisolone_taper
    parts = [
        f"{fmt_number(s.dose_mg)} mg q{s.interval_hours:g}h x {s.days:g} days"
        if s.days
        else f"{fmt_number(s.dose_mg)} mg q{s.interval_hours:g}h until grade <= 1"
        for s in steps
    ]
    whole = f"Methylprednisolone taper: {' -> '.join(parts)}."
    if taper is None:
        return whole
    day = int((situation.now - taper.started_at) / timedelta(days=1)) + 1
    last = taper.latest_dose
    if last.dose_mg is not None and last.dose_mg > steps[0].dose_mg:
        given = f"{fmt_number(last.dose_mg)} mg given {fmt_time(last.at)}"
        return f"Methylprednisolone day {day} of the course: escalated ({given}); taper once improved. {whole}"
    return f"Methylprednisolone day {day} of the course: today's step is {parts[taper.step_index]}. {whole}"
