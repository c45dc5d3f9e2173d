"""The data layers of the CRS timeline, read from the engine: never a grade computed here.

Everything the chart, the text description and the data table show comes from one ``Layers``: the
readings of the Timeline since the start of the episode, the engine's thresholds for this patient, the
engine's grade history (ASTCT grade at each event time, managed grade from ``assess`` at the same
times) and the engine's tocilizumab limits. Pure: no web, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from service.cards.wording import Wording
from service.crs.engine import assess
from service.crs.episode import Episode
from service.crs.grading import classify_oxygen, grade_at
from service.crs.history import car_t_infusions, grade_history
from service.crs.policy import DrugRole, Policy
from service.crs.timeline import Timeline
from service.crs.tocilizumab import limit_block, tocilizumab_history
from service.crs.vitals import age_in_years, current_oxygen, hypotension_limits

DEFAULT_WINDOW = timedelta(days=7)
DOSE_ROLES: tuple[DrugRole, ...] = ("tocilizumab", "corticosteroid")


@dataclass(frozen=True)
class Reading:
    at: datetime
    value: float
    label: str


@dataclass(frozen=True)
class OxygenStep:
    at: datetime
    support_class: int | None
    label: str


@dataclass(frozen=True)
class Infusion:
    drug: str
    start: datetime
    end: datetime
    running: bool


@dataclass(frozen=True)
class Dose:
    at: datetime
    drug: str
    role: str
    label: str
    amount: str


@dataclass(frozen=True)
class GradeStep:
    """The engine's grades from ``start`` until the next step (or now)."""

    start: datetime
    end: datetime
    grade: int | None
    managed_grade: int | None


@dataclass(frozen=True)
class TociLimits:
    doses_since_t0: int
    max_total: int
    doses_last_24h: int
    max_per_24h: int
    blocked_reason: str | None
    next_allowed_at: datetime | None


@dataclass(frozen=True)
class Layers:
    patient_id: str | None
    now: datetime
    start: datetime
    t0: datetime | None
    product: str | None
    fever_threshold_c: float
    sbp_below: float
    map_below: float | None
    temperatures: tuple[Reading, ...]
    systolic: tuple[Reading, ...]
    mean_pressure: tuple[Reading, ...]
    oxygen: tuple[OxygenStep, ...]
    vasopressors: tuple[Infusion, ...]
    doses: tuple[Dose, ...]
    icans: tuple[Reading, ...]
    grades: tuple[GradeStep, ...]
    tocilizumab: TociLimits
    in_scope: bool
    policy_version: str


def build_layers(timeline: Timeline, policy: Policy, now: datetime, wording: Wording) -> Layers:
    """The chart's layers at ``now``; ``wording`` renders the engine's reasons (the cards' own texts)."""
    infusions = car_t_infusions(Episode(timeline, policy, None), now)
    ctx = Episode(timeline, policy, infusions[0].at if infusions else None)
    start = ctx.t0 if ctx.t0 is not None else now - DEFAULT_WINDOW
    sbp_below, map_below = hypotension_limits(policy, age_in_years(timeline.birth_date, now))
    current = assess(timeline, policy, now)
    return Layers(
        patient_id=timeline.patient_id,
        now=now,
        start=start,
        t0=ctx.t0,
        product=current.car_t_product,
        fever_threshold_c=policy.fever.threshold_c,
        sbp_below=sbp_below,
        map_below=map_below,
        temperatures=_temperatures(timeline, start, now),
        systolic=_pressures(timeline, start, now, mean=False),
        mean_pressure=_pressures(timeline, start, now, mean=True),
        oxygen=_oxygen(ctx, start, now),
        vasopressors=_vasopressors(timeline, policy, start, now),
        doses=_doses(timeline, policy, start, now),
        icans=tuple(
            Reading(r.at, r.grade, "ICE score" if r.from_ice_score else "ICANS grade")
            for r in timeline.icans.between(start, now)
        ),
        grades=grade_steps(timeline, policy, ctx, now),
        tocilizumab=_toci_limits(ctx, grade_at(ctx, now).comparable, now, wording),
        in_scope=current.in_scope,
        policy_version=current.policy_version,
    )


def _temperatures(timeline: Timeline, start: datetime, now: datetime) -> tuple[Reading, ...]:
    return tuple(Reading(r.at, r.temp_c, "temperature") for r in timeline.temperatures.between(start, now))


def _pressures(timeline: Timeline, start: datetime, now: datetime, *, mean: bool) -> tuple[Reading, ...]:
    readings = []
    for record in timeline.blood_pressures.between(start, now):
        value = record.mean_mmhg if mean else record.systolic_mmhg
        if value is not None:
            readings.append(Reading(record.at, value, "MAP" if mean else "systolic"))
    return tuple(readings)


def _oxygen(ctx: Episode, start: datetime, now: datetime) -> tuple[OxygenStep, ...]:
    """At each documentation of oxygen support: the support the engine reads then, and its hypoxia class."""
    timeline = ctx.timeline
    steps = []
    for moment in sorted({record.at for record in timeline.oxygen.between(start, now)}):
        support = current_oxygen(ctx, moment)
        if support is None:
            continue
        support_class, _ = classify_oxygen(support, ctx.policy)
        parts = [support.device_name or ("room air" if support.device == "room-air" else "")]
        if support.flow_l_min is not None:
            parts.append(f"{support.flow_l_min:g} L/min")
        if support.fio2_pct is not None:
            parts.append(f"FiO2 {support.fio2_pct:g} %")
        steps.append(OxygenStep(moment, support_class, ", ".join(part for part in parts if part)))
    return tuple(steps)


def _vasopressors(timeline: Timeline, policy: Policy, start: datetime, now: datetime) -> tuple[Infusion, ...]:
    pressors = policy.drugs_with_role("vasopressor")
    bars = []
    for dose in timeline.given(pressors, now):
        end = dose.end if dose.end is not None and dose.end <= now else now
        if end >= start:
            running = dose.status == "in-progress" or (dose.end is None and dose.status == "on-hold")
            bars.append(Infusion(policy.drugs[dose.drug].display, max(dose.at, start), end, running))
    return tuple(bars)


def _doses(timeline: Timeline, policy: Policy, start: datetime, now: datetime) -> tuple[Dose, ...]:
    doses = []
    for role in DOSE_ROLES:
        for dose in timeline.given(policy.drugs_with_role(role), now):
            if dose.at >= start:
                amount = f"{dose.dose_mg:g} mg" if dose.dose_mg is not None else ""
                display = policy.drugs[dose.drug].display
                doses.append(Dose(dose.at, display, role, f"{display} {amount}".strip(), amount))
    return tuple(sorted(doses, key=lambda dose: dose.at))


def grade_steps(timeline: Timeline, policy: Policy, ctx: Episode, now: datetime) -> tuple[GradeStep, ...]:
    """The engine's grade history as steps: ASTCT grade from ``grade_history``, managed grade from ``assess``.

    Each step lasts until the next event time; the last one is the assessment at ``now`` (what the card
    shows), a step of no width.
    """
    history = [(result.at, result.grade) for result in grade_history(ctx, now) if result.at < now]
    current = assess(timeline, policy, now)
    moments = [*history, (now, current.grade)]
    steps = []
    for index, (moment, grade) in enumerate(moments):
        managed = current if moment == now else assess(timeline, policy, moment)
        end = moments[index + 1][0] if index + 1 < len(moments) else now
        steps.append(GradeStep(moment, end, grade, managed.managed_grade if managed.in_scope else None))
    return tuple(steps)


def _toci_limits(ctx: Episode, grade_now: int | None, now: datetime, wording: Wording) -> TociLimits:
    """M-TOCI-LIMITS as the engine checks them now: counts, the block if any and when a dose is next allowed."""
    limits = ctx.policy.tocilizumab
    history = tocilizumab_history(ctx, now)
    block, _ = limit_block(ctx, history, grade_now, now)
    day_ago = now - timedelta(hours=24)
    return TociLimits(
        doses_since_t0=history.count,
        max_total=limits.max_total_doses,
        doses_last_24h=sum(1 for dose in history.given if dose.at > day_ago),
        max_per_24h=limits.max_doses_per_24h,
        blocked_reason="; ".join(wording.note(reason) for reason in block.reasons) if block else None,
        next_allowed_at=block.next_allowed_at if block else None,
    )


def recent(layers: Layers, hours: float) -> Layers:
    """The same layers cut to the last ``hours`` (the detail view): what began earlier starts at the cut."""
    start = layers.now - timedelta(hours=hours)
    if start <= layers.start:
        return layers
    earlier_oxygen = [step for step in layers.oxygen if step.at < start][-1:]
    return replace(
        layers,
        start=start,
        temperatures=tuple(r for r in layers.temperatures if r.at >= start),
        systolic=tuple(r for r in layers.systolic if r.at >= start),
        mean_pressure=tuple(r for r in layers.mean_pressure if r.at >= start),
        oxygen=(
            *(replace(step, at=start) for step in earlier_oxygen),
            *(step for step in layers.oxygen if step.at >= start),
        ),
        vasopressors=tuple(
            replace(bar, start=max(bar.start, start)) for bar in layers.vasopressors if bar.end >= start
        ),
        doses=tuple(dose for dose in layers.doses if dose.at >= start),
        icans=tuple(r for r in layers.icans if r.at >= start),
        grades=tuple(replace(step, start=max(step.start, start)) for step in layers.grades if step.end >= start),
    )
