"""Corticosteroids: which regimen applies (M-STEROID-SELECT), whether it is already running
(M-ACTIVE-ORDER), the methylprednisolone taper (M-G4) and the M-G2-DEX persistence evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.crs.assessment import Note, Param, note
from service.crs.episode import Episode
from service.crs.policy import Policy, TaperStep
from service.crs.timeline import Administration
from service.crs.vitals import active_vasopressors, age_in_years, hypotension_limits, is_hypotensive

METHYLPREDNISOLONE = frozenset({"methylprednisolone"})  # one set object: ``Timeline.given`` keeps its doses by set


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
    ctx: Episode, rule: str, interval: float, *, interval_max_hours: float | None = None, max_doses: int | None = None
) -> Regimen:
    dose = ctx.policy.steroids.dexamethasone_mg
    return Regimen(rule, "dexamethasone", dose, interval, interval_max_hours=interval_max_hours, max_doses=max_doses)


def candidate_regimens(
    ctx: Episode, managed: int | None, icans_with_crs: bool, early: bool, dex_evidence: bool
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


def steroid_doses(ctx: Episode, now: datetime, within: timedelta) -> tuple[Administration, ...]:
    steroids = ctx.policy.drugs_with_role("corticosteroid")
    return tuple(dose for dose in ctx.timeline.given(steroids, now) if now - dose.at <= within)


@dataclass(frozen=True)
class RunningSteroid:
    """A corticosteroid regimen running now (M-ACTIVE-ORDER): an active order, or recent administrations."""

    drug: str
    dose_mg: float | None
    interval_hours: float | None
    since: datetime | None
    ordered: bool

    def at_least(self, regimen: Regimen, policy: Policy) -> bool:
        """Same regimen = at least as intensive: dexamethasone-equivalent dose >= and interval <= the
        regimen's. An unknown interval (one dose alone, an order without timing) compares the dose only.

        Reading: a dose not documented counts as the same regimen (the card says "dose not documented"), so a
        steroid just given is not ordered twice; a documented smaller dose is named and replaced.
        """
        dose = policy.dexamethasone_mg(self.drug, self.dose_mg) if self.dose_mg is not None else None
        wanted = policy.dexamethasone_mg(regimen.drug, regimen.dose_mg) or regimen.dose_mg
        dose_ok = self.dose_mg is None or (dose is not None and dose >= wanted - 1e-9)
        interval_ok = self.interval_hours is None or self.interval_hours <= regimen.interval_hours + 1e-9
        return dose_ok and interval_ok and (not regimen.is_escalation or self.drug == regimen.drug)


def running_steroids(ctx: Episode, regimen: Regimen, now: datetime) -> list[RunningSteroid]:
    """M-ACTIVE-ORDER: active corticosteroid orders, and corticosteroids given within the regimen's period
    plus 2 h (dexamethasone: the regimen's period; methylprednisolone: its taper interval)."""
    steroids = ctx.policy.drugs_with_role("corticosteroid")
    running = [
        RunningSteroid(order.drug, order.dose_mg, order.interval_hours, order.authored_at, True)
        for order in ctx.timeline.orders
        if order.drug in steroids
    ]
    for drug, only_drug in ctx.policy.derived("each corticosteroid", _each_corticosteroid):
        doses = ctx.timeline.given(only_drug, now)
        if doses and now - doses[-1].at <= _active_window(ctx, regimen, drug):
            gap = (doses[-1].at - doses[-2].at) / timedelta(hours=1) if len(doses) > 1 else None
            running.append(RunningSteroid(drug, doses[-1].dose_mg, gap, doses[-1].at, False))
    return running


def _each_corticosteroid(policy: Policy) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each corticosteroid by name, with the one-drug set ``Timeline.given`` is asked with (once per policy)."""
    return tuple((drug, frozenset({drug})) for drug in sorted(policy.drugs_with_role("corticosteroid")))


def _active_window(ctx: Episode, regimen: Regimen, drug: str) -> timedelta:
    steroids = ctx.policy.steroids
    period = steroids.methylprednisolone_taper[0].interval_hours if drug == "methylprednisolone" else None
    hours = period or regimen.interval_hours
    return timedelta(hours=hours + ctx.policy.management.active_order_grace_hours)


@dataclass(frozen=True)
class TaperPosition:
    started_at: datetime
    step_index: int
    step: TaperStep
    latest_dose: Administration


def methylprednisolone_course(ctx: Episode, now: datetime) -> tuple[Administration, ...]:
    """The current course: methylprednisolone doses with no gap over 48 h, ending with the latest."""
    doses = ctx.timeline.given(METHYLPREDNISOLONE, now)
    course: list[Administration] = []
    for dose in doses:
        if course and dose.at - course[-1].at > timedelta(hours=48):
            course = []
        course.append(dose)
    return tuple(course)


def taper_position(ctx: Episode, now: datetime) -> TaperPosition | None:
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


def high_dose_running_without_response(ctx: Episode, grade: int | None, now: datetime) -> bool:
    """M-G4: methylprednisolone running >= 24 h (any step of the taper) with the grade still 4 -> consider
    1000 mg. Running: a dose within the taper interval plus the grace hours."""
    if grade != 4:
        return False
    steroids = ctx.policy.steroids
    course = methylprednisolone_course(ctx, now)
    grace = ctx.policy.management.active_order_grace_hours
    if not course or now - course[-1].at > timedelta(hours=steroids.methylprednisolone_taper[0].interval_hours + grace):
        return False
    return now - course[0].at >= timedelta(hours=steroids.methylprednisolone_escalation_after_hours)


def is_bolus(ctx: Episode, dose: Administration, now: datetime) -> bool:
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


def hypotension_persists(ctx: Episode, now: datetime) -> bool:
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


def regimen_params(regimen: Regimen) -> dict[str, Param]:
    params: dict[str, Param] = {"drug": regimen.drug, "dose": regimen.dose_mg, "interval": regimen.interval_hours}
    if regimen.interval_max_hours:
        params["interval_max"] = regimen.interval_max_hours
    if regimen.max_doses:
        params["max_doses"] = regimen.max_doses
    if regimen.duration_days:
        params["days"] = regimen.duration_days
    return params


def regimen_note(regimen: Regimen) -> Note:
    return note(regimen.rule, "regimen", **regimen_params(regimen))
