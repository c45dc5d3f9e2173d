"""Vital-sign facts the rules share (grading, management, order checks, the timeline page): age and the
hypotension limits, blood pressure and computed MAP, running infusions, current oxygen support, fevers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from service.crs.episode import Episode
from service.crs.policy import Policy
from service.crs.timeline import Administration, BloodPressure, OxygenSupport, Temperature


def age_in_years(birth_date: date | None, moment: datetime) -> int | None:
    if birth_date is None:
        return None
    today = moment.date()
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def hypotension_limits(policy: Policy, age: int | None) -> tuple[float, float | None]:
    """G-HYPOTENSION: (SBP below which, MAP below which or None for children)."""
    limits = policy.hypotension
    if age is None or age >= limits.adult_age_years:
        return limits.adult_sbp_below, limits.adult_map_below
    if age < 1:
        return limits.infant_sbp_below, None
    if age <= limits.child_max_age_years:
        return limits.child_sbp_base + limits.child_sbp_per_year * age, None
    return limits.adolescent_sbp_below, None


def is_hypotensive(reading: BloodPressure, sbp_below: float, map_below: float | None) -> bool:
    """G-HYPOTENSION: SBP below the limit, or (adults: ``map_below`` set) MAP documented or computed below it."""
    low_sbp = reading.systolic_mmhg is not None and reading.systolic_mmhg < sbp_below
    mean, _computed = mean_pressure(reading, adult=map_below is not None)
    low_map = map_below is not None and mean is not None and mean < map_below
    return low_sbp or low_map


def is_running(dose: Administration, moment: datetime, recent_end: timedelta) -> bool:
    """G-VASOPRESSOR activity at ``moment``.

    in-progress is an infusion whatever ``effective[x]`` says (a dateTime, no rate); on-hold is paused, not
    active. Reading: a completed or stopped infusion with no end time is not running (its status says it ended).
    """
    if dose.at > moment or dose.status == "on-hold":
        return False
    if dose.status == "in-progress":
        return True
    if not dose.is_infusion:
        return False  # a single push dose
    if dose.end is None:
        return dose.status not in ("completed", "stopped")
    return dose.end >= moment - recent_end


def paused_infusions(ctx: Episode, moment: datetime) -> tuple[Administration, ...]:
    """G-VASOPRESSOR: vasopressor or inotrope infusions on hold at ``moment``, named but not counted."""
    drugs = ctx.policy.derived("pressors-or-inotropes", _pressors_or_inotropes)
    return tuple(d for d in ctx.timeline.given(drugs, moment) if d.status == "on-hold" and d.end is None)


def _pressors_or_inotropes(policy: Policy) -> frozenset[str]:
    return policy.drugs_with_role("vasopressor") | policy.drugs_with_role("inotrope")


def _inotropes_only(policy: Policy) -> frozenset[str]:
    return policy.drugs_with_role("inotrope") - policy.drugs_with_role("vasopressor")


def running_inotropes(ctx: Episode, moment: datetime) -> tuple[Administration, ...]:
    recent_end = ctx.hours(ctx.policy.support.vasopressor_recent_end_hours)
    inotropes = ctx.policy.derived("inotropes-only", _inotropes_only)
    return tuple(d for d in ctx.timeline.given(inotropes, moment) if is_running(d, moment, recent_end))


def active_vasopressors(ctx: Episode, moment: datetime) -> tuple[Administration, ...]:
    pressors = ctx.policy.drugs_with_role("vasopressor")
    recent_end = ctx.hours(ctx.policy.support.vasopressor_recent_end_hours)
    return tuple(dose for dose in ctx.timeline.given(pressors, moment) if is_running(dose, moment, recent_end))


def any_vasopressor_running(ctx: Episode, moment: datetime) -> bool:
    """``active_vasopressors(ctx, moment)`` is not empty: all the grade history asks of them."""
    recent_end = ctx.hours(ctx.policy.support.vasopressor_recent_end_hours)
    for dose in ctx.timeline.given(ctx.policy.drugs_with_role("vasopressor"), moment):
        if is_running(dose, moment, recent_end):
            return True
    return False


def latest_blood_pressure(ctx: Episode, moment: datetime) -> BloodPressure | None:
    """C3: the latest reading in 24 h with a systolic or mean pressure (a diastolic alone grades nothing).

    Readings at the same instant are merged (standalone SBP, DBP and MAP); with two of one kind the lowest
    counts (R-TIES).
    """
    window = ctx.hours(ctx.policy.freshness.vitals_hours)
    pressures = ctx.timeline.blood_pressures
    latest = pressures.latest(moment, window, where=_grades_pressure)
    if latest is None:
        return None
    at = latest.at
    everything = pressures.between(at, at)
    if len(everything) == 1:
        return latest  # alone at its instant: the merge is the reading itself
    return BloodPressure(
        at,
        _lowest(r.systolic_mmhg for r in everything),
        _lowest(r.mean_mmhg for r in everything),
        ", ".join(sorted({r.source for r in everything})),
        _lowest(r.diastolic_mmhg for r in everything),
    )


def _grades_pressure(reading: BloodPressure) -> bool:
    return reading.systolic_mmhg is not None or reading.mean_mmhg is not None


def _lowest(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def mean_pressure(reading: BloodPressure, adult: bool) -> tuple[float | None, bool]:
    """G-HYPOTENSION: (MAP, computed?). For adults a MAP not documented is DBP + (SBP - DBP) / 3 from the
    same instant; for children MAP is not used."""
    if not adult:
        return None, False
    if reading.mean_mmhg is not None:
        return reading.mean_mmhg, False
    if reading.systolic_mmhg is None or reading.diastolic_mmhg is None:
        return None, False
    return reading.diastolic_mmhg + (reading.systolic_mmhg - reading.diastolic_mmhg) / 3, True


def current_oxygen(ctx: Episode, moment: datetime) -> OxygenSupport | None:
    """C3: the latest device documentation in 24 h, with the latest flow and FiO2 documented since it."""
    return merged_oxygen(*oxygen_records(ctx, moment))


def merged_oxygen(
    device: OxygenSupport | None, flow: OxygenSupport | None, fio2: OxygenSupport | None
) -> OxygenSupport | None:
    """One record of the device, flow and FiO2 documentation that govern (C3); None when none does."""
    found = [record for record in (device, flow, fio2) if record is not None]
    if not found:
        return None
    return OxygenSupport(
        at=max(record.at for record in found),
        device=device.device if device else None,
        device_name=device.device_name if device else None,
        flow_l_min=flow.flow_l_min if flow else None,
        fio2_pct=fio2.fio2_pct if fio2 else None,
        source=", ".join(sorted({record.source for record in found})),
        invasive=device.invasive if device else False,
    )


OxygenRecords = tuple[OxygenSupport | None, OxygenSupport | None, OxygenSupport | None]


def oxygen_records(ctx: Episode, moment: datetime) -> OxygenRecords:
    """The records ``current_oxygen`` merges: (device, flow, FiO2), R-TIES: the most supportive of an instant."""
    window = ctx.hours(ctx.policy.freshness.vitals_hours)
    timeline = ctx.timeline
    devices = timeline.oxygen_with("device").latest_all(moment, window)
    device = max(devices, key=_support_rank) if devices else None
    since = device.at if device else moment - window
    flows = timeline.oxygen_with("flow_l_min").latest_all(moment, moment - since)
    fio2s = timeline.oxygen_with("fio2_pct").latest_all(moment, moment - since)
    flow = max(flows, key=lambda record: record.flow_l_min or 0) if flows else None
    fio2 = max(fio2s, key=lambda record: record.fio2_pct or 0) if fio2s else None
    return device, flow, fio2


DEVICE_RANK = {"room-air": 0, "blow-by": 1, "nasal-cannula": 2, "high-flow": 3, "positive-pressure": 4}


def _support_rank(record: OxygenSupport) -> tuple[int, bool, str]:
    return DEVICE_RANK.get(record.device or "", -1), record.invasive, record.source


def first_fever_since_t0(ctx: Episode, moment: datetime) -> Temperature | None:
    first = ctx.fevers[0] if ctx.fevers else None
    return first if first is not None and first.at <= moment else None
