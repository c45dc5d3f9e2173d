"""Corticosteroid planning (M-STEROID-SELECT and the steroid parts of M-G2-DEX, M-G3, M-G4, M-HLH,
M-ICANS, M-EARLY-STEROID, M-ACTIVE-ORDER): at most one steroid suggestion, its wording and the taper."""

from __future__ import annotations

from datetime import timedelta

from service.crs.assessment import Note, Param, RecommendedOrder, note
from service.crs.findings import Findings, Situation
from service.crs.steroids import (
    Regimen,
    RunningSteroid,
    TaperPosition,
    high_dose_running_without_response,
    regimen_note,
    regimen_params,
    running_steroids,
    steroid_doses,
    taper_position,
)

RECENT_STEROID_HOURS = 24  # M-STEROID-SELECT: a steroid "given in the last 24 h"


def plan_steroids(situation: Situation, findings: Findings) -> bool:
    """M-STEROID-SELECT: at most one steroid suggestion. True if one was suggested."""
    ctx, now = situation.ctx, situation.now
    indications = situation.indicated
    icans_with_crs, regimens = indications.icans_with_crs, indications.regimens
    if situation.managed == 2 and not (indications.dex_evidence or indications.early_product or icans_with_crs):
        steroids = ctx.policy.steroids
        findings.step(
            "M-G2-DEX",
            "M-G2-DEX.next-step",
            dose=steroids.dexamethasone_mg,
            interval=steroids.dexamethasone_grade2_interval_hours,
            max_doses=steroids.dexamethasone_grade2_max_doses,
        )
    if icans_with_crs:  # M-ICANS applies; M-STEROID-SELECT may still pick a more intensive regimen
        findings.fire("M-ICANS")
    if icans_with_crs and (situation.icans_grade or 0) >= 3:
        findings.step("M-ICANS", "M-ICANS.protocol")
    taper = taper_position(ctx, now)
    if taper is not None:  # M-STEROID-SELECT: methylprednisolone given in 24 h
        findings.fire("M-STEROID-SELECT")
        findings.next_steps.append(taper_today(situation, taper))
    if high_dose_running_without_response(ctx, situation.current.grade, now):  # M-G4 escalation
        regimens = (escalation_regimen(situation),)
    if not regimens:
        _taper_rapidly(situation, findings)
        return False
    chosen = regimens[0]
    findings.fire("M-STEROID-SELECT")
    findings.fire(chosen.rule)
    if taper is not None and not chosen.is_escalation:  # M-G4: the taper statement is the one statement
        if chosen.drug == "dexamethasone":
            findings.step("M-STEROID-SELECT", "M-STEROID-SELECT.methylprednisolone-running")
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
            findings.fire("M-ACTIVE-ORDER")
            findings.next_steps.append(note("M-ACTIVE-ORDER", None, (describe_running(same[0]),)))
        return False
    if running and not chosen.is_escalation:
        findings.fire("M-ACTIVE-ORDER")
        parts = (describe_running(running[0]), regimen_note(chosen))
        findings.next_steps.append(note("M-ACTIVE-ORDER", "M-ACTIVE-ORDER.less-intensive", parts))
    findings.recommended.append(_recommended(situation, chosen))
    return True


def _newest_first(item: RunningSteroid) -> tuple[bool, float]:
    return item.since is None, -(item.since.timestamp() if item.since else 0)


def describe_running(item: RunningSteroid) -> Note:
    """A running regimen by drug, dose, interval and time, never by a FHIR id."""
    params: dict[str, Param] = {"drug": item.drug, "status": "ordered" if item.ordered else "given"}
    if item.dose_mg is not None:
        params["dose"] = item.dose_mg
    if item.interval_hours:
        params["interval"] = item.interval_hours
    if item.since is not None:
        params["time"] = item.since
    return note("M-ACTIVE-ORDER", "running-steroid", **params)


def _recommended(situation: Situation, chosen: Regimen) -> RecommendedOrder:
    """The steroid order; its wording key names the rule's reason (``order.<rule>``, the escalation its own)."""
    key = "order.M-G4.escalation" if chosen.is_escalation else f"order.{chosen.rule}"
    params = regimen_params(chosen)
    if chosen.is_escalation:
        params["after"] = situation.ctx.policy.steroids.methylprednisolone_escalation_after_hours
    return RecommendedOrder(
        rule=chosen.rule,
        drug=chosen.drug,
        dose_mg=chosen.dose_mg,
        interval_hours=chosen.interval_hours,
        interval_max_hours=chosen.interval_max_hours,
        max_doses=chosen.max_doses,
        duration_days=chosen.duration_days,
        key=key,
        params=params,
        is_recommended=not chosen.is_escalation,
    )


def _taper_rapidly(situation: Situation, findings: Findings) -> None:
    """M-STEROID-SELECT: a steroid in the last 24 h with managed grade <= 1 and no ICANS >= 2."""
    recent = steroid_doses(situation.ctx, situation.now, timedelta(hours=RECENT_STEROID_HOURS))
    if recent and (situation.managed or 0) <= 1 and (situation.icans_grade or 0) < 2 and situation.managed is not None:
        findings.step("M-STEROID-SELECT", "M-STEROID-SELECT.taper-rapidly", hours=RECENT_STEROID_HOURS)


def taper_steps(situation: Situation) -> tuple[Note, ...]:
    """M-G4: the whole methylprednisolone taper of the policy, one note per step."""
    return tuple(
        note("M-G4", "M-G4.taper-step", dose=step.dose_mg, interval=step.interval_hours, **_days(step.days))
        for step in situation.ctx.policy.steroids.methylprednisolone_taper
    )


def _days(days: float | None) -> dict[str, Param]:
    return {"days": days} if days else {}


def taper_today(situation: Situation, taper: TaperPosition) -> Note:
    """M-G4: one statement of today's step (day N of the course), or of an escalated dose, with the whole taper."""
    day = int((situation.now - taper.started_at) / timedelta(days=1)) + 1
    last, steps = taper.latest_dose, situation.ctx.policy.steroids.methylprednisolone_taper
    if last.dose_mg is not None and last.dose_mg > steps[0].dose_mg:
        return note("M-G4", "M-G4.escalated", taper_steps(situation), day=day, dose=last.dose_mg, time=last.at)
    step = taper.step
    params = {"day": day, "dose": step.dose_mg, "interval": step.interval_hours, **_days(step.days)}
    return note("M-G4", "M-G4.taper-today", taper_steps(situation), **params)
