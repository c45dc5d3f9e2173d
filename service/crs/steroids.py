"""Corticosteroids: which regimen applies (M-STEROID-SELECT), whether it is already running
(M-ACTIVE-ORDER), the methylprednisolone taper (M-G4) and the M-G2-DEX persistence evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.crs.grading import Context, active_vasopressors, age_in_years, hypotension_limits, is_hypotensive
from service.crs.policy import TaperStep
from service.crs.timeline import Administration, Order


@dataclass(frozen=True)
class Regimen:
    """A steroid order the protocol calls for."""

    rule: str
    drug: str
    dose_mg: float
    interval_hours: float
    interval_max_hours: float | None = None
    max_doses: int | None = None
    duration_days: float | None = None
    is_escalation: bool = False


def dexamethasone(
    ctx: Context, rule: str, interval: float, *, interval_max_hours: float | None = None, max_doses: int | None = None
) -> Regimen:
    dose = ctx.policy.steroids.dexamethasone_mg
    return Regimen(rule, "dexamethasone", dose, interval, interval_max_hours=interval_max_hours, max_doses=max_doses)


def candidate_regimens(
    ctx: Context, managed: int | None, icans_with_crs: bool, early: bool, dex_evidence: bool
) -> list[Regimen]:
    """Every regimen that applies, most intensive first (M-STEROID-SELECT order)."""
    steroids = ctx.policy.steroids
    first_step = steroids.methylprednisolone_taper[0]
    regimens = []
    if managed == 4:  # M-G4
        regimens.append(
            Regimen(
                "M-G4",
                "methylprednisolone",
                first_step.dose_mg,
                first_step.interval_hours,
                duration_days=first_step.days,
            )
        )
    if managed == 3:  # M-G3 (and M-HLH, which manages as grade 3)
        regimens.append(dexamethasone(ctx, "M-G3", steroids.dexamethasone_grade3_interval_hours))
    if icans_with_crs:  # M-ICANS
        regimens.append(
            dexamethasone(
                ctx,
                "M-ICANS",
                steroids.dexamethasone_icans_interval_hours,
                interval_max_hours=steroids.dexamethasone_icans_interval_max_hours,
            )
        )
    if managed == 2 and early:  # M-EARLY-STEROID
        regimens.append(dexamethasone(ctx, "M-EARLY-STEROID", steroids.dexamethasone_grade2_interval_hours))
    if managed == 2 and dex_evidence:  # M-G2-DEX
        regimens.append(
            dexamethasone(
                ctx,
                "M-G2-DEX",
                steroids.dexamethasone_grade2_interval_hours,
                max_doses=steroids.dexamethasone_grade2_max_doses,
            )
        )
    return regimens


def steroid_doses(ctx: Context, now: datetime, within: timedelta) -> tuple[Administration, ...]:
    steroids = ctx.policy.drugs_with_role("corticosteroid")
    return tuple(dose for dose in ctx.timeline.given(steroids, now) if now - dose.at <= within)


def running_regimen_source(ctx: Context, regimen: Regimen, now: datetime) -> str | None:
    """M-ACTIVE-ORDER: an active order at least as intensive, or a dose within the period + 2 h."""
    for order in ctx.timeline.orders:
        if order.drug == regimen.drug and _at_least(order, regimen):
            return order.source
    period = (
        regimen.interval_hours
        if regimen.drug == "dexamethasone"
        else ctx.policy.steroids.methylprednisolone_taper[0].interval_hours
    )
    window = timedelta(hours=period + ctx.policy.management.active_order_grace_hours)
    recent = [dose for dose in ctx.timeline.given(frozenset({regimen.drug}), now) if now - dose.at <= window]
    if regimen.is_escalation:
        recent = [dose for dose in recent if dose.dose_mg is not None and dose.dose_mg >= regimen.dose_mg]
    return recent[-1].source if recent else None


def _at_least(order: Order, regimen: Regimen) -> bool:
    dose_ok = order.dose_mg is None or order.dose_mg >= regimen.dose_mg
    interval_ok = order.interval_hours is None or order.interval_hours <= regimen.interval_hours
    return dose_ok and interval_ok


@dataclass(frozen=True)
class TaperPosition:
    started_at: datetime
    step_index: int
    step: TaperStep
    latest_dose: Administration


def methylprednisolone_course(ctx: Context, now: datetime) -> tuple[Administration, ...]:
    """The current course: methylprednisolone doses with no gap over 48 h, ending with the latest."""
    doses = ctx.timeline.given(frozenset({"methylprednisolone"}), now)
    course: list[Administration] = []
    for dose in doses:
        if course and dose.at - course[-1].at > timedelta(hours=48):
            course = []
        course.append(dose)
    return tuple(course)


def taper_position(ctx: Context, now: datetime) -> TaperPosition | None:
    """M-G4: today's taper step, counted in days from the first dose of the current course."""
    course = methylprednisolone_course(ctx, now)
    if not course or now - course[-1].at > timedelta(hours=24):
        return None
    elapsed_days = (now - course[0].at) / timedelta(days=1)
    taper = ctx.policy.steroids.methylprednisolone_taper
    boundary = 0.0
    for index, step in enumerate(taper):
        boundary += step.days or float("inf")
        if elapsed_days < boundary:
            return TaperPosition(course[0].at, index, step, course[-1])
    return TaperPosition(course[0].at, len(taper) - 1, taper[-1], course[-1])


def high_dose_running_without_response(ctx: Context, grade: int | None, now: datetime) -> bool:
    """M-G4: methylprednisolone 500 mg running >= 24 h with grade still 4 -> consider 1000 mg."""
    if grade != 4:
        return False
    steroids = ctx.policy.steroids
    first_dose = steroids.methylprednisolone_taper[0].dose_mg
    course = [d for d in methylprednisolone_course(ctx, now) if d.dose_mg is not None and d.dose_mg >= first_dose]
    if not course or now - course[-1].at > timedelta(hours=steroids.methylprednisolone_taper[0].interval_hours + 2):
        return False
    return now - course[0].at >= timedelta(hours=steroids.methylprednisolone_escalation_after_hours)


def is_bolus(ctx: Context, dose: Administration, now: datetime) -> bool:
    """M-G2-DEX: crystalloid >= 250 mL (children >= 10 mL/kg) over <= 60 min or with no end time.

    Reading: a child's bolus needs a weight; without one it is not counted (no dexamethasone on a guess).
    """
    if not ctx.policy.has_role(dose.drug, "crystalloid") or dose.volume_ml is None:
        return False
    bolus = ctx.policy.bolus
    if dose.end is not None and dose.end - dose.at > timedelta(minutes=bolus.max_duration_minutes):
        return False
    age = age_in_years(ctx.timeline.birth_date, now)
    if age is not None and age < ctx.policy.hypotension.adult_age_years:
        weight = ctx.timeline.weights.latest(dose.at)
        return weight is not None and dose.volume_ml >= bolus.child_min_ml_per_kg * weight.weight_kg
    return dose.volume_ml >= bolus.min_volume_ml


def hypotension_persists(ctx: Context, now: datetime) -> bool:
    """M-G2-DEX: a hypotensive reading after the second bolus and the first tocilizumab dose, both given
    after the hypotension began (the last normal BP off vasopressors, or t0)."""
    sbp_below, map_below = hypotension_limits(ctx.policy, age_in_years(ctx.timeline.birth_date, now))
    readings = ctx.timeline.blood_pressures.up_to(now)
    began = ctx.start
    for reading in reversed(readings):
        if not is_hypotensive(reading, sbp_below, map_below) and not active_vasopressors(ctx, reading.at):
            began = max(began, reading.at)
            break
    after = [dose for dose in ctx.timeline.administrations.between(began, now) if dose.at > began]
    boluses = [dose for dose in after if is_bolus(ctx, dose, now)]
    tocilizumab = [dose for dose in after if ctx.policy.has_role(dose.drug, "tocilizumab")]
    if len(boluses) < 2 or not tocilizumab:
        return False
    both_given = max(boluses[1].at, tocilizumab[0].at)
    return any(r.at > both_given and is_hypotensive(r, sbp_below, map_below) for r in readings)
