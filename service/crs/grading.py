"""ASTCT grading at one moment: fever (C1), waiver (C2), freshness (C3), hypotension, vasopressors,
hypoxia and the grade (G-rules). Pure: ``grade_at`` reads only data at or before ``moment``, so the
same function computes the grade now and the grade history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter

from service.crs.assessment import Param
from service.crs.episode import Episode
from service.crs.evidence import Evidence
from service.crs.policy import Policy
from service.crs.timeline import Administration, BloodPressure, OxygenDeviceClass, OxygenSupport
from service.crs.vitals import (
    active_vasopressors,
    age_in_years,
    current_oxygen,
    first_fever_since_t0,
    hypotension_limits,
    is_hypotensive,
    latest_blood_pressure,
    mean_pressure,
    paused_infusions,
    running_inotropes,
)

_TEMP_C = attrgetter("temp_c")

SUPPORT_CLASS_KEYS = ("fever", "hypotension", "hypoxia")


@dataclass(frozen=True)
class GradeResult:
    """The ASTCT grade at ``at`` (None: insufficient recent data) and how it was reached."""

    at: datetime
    grade: int | None
    fever: bool | None
    waiver_dose: Administration | None
    hypotension: int | None
    hypoxia: int | None
    active_vasopressors: tuple[Administration, ...] = ()
    flags: frozenset[str] = frozenset()
    unknown: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = field(default=(), compare=False)
    possible_grade: int | None = None

    @property
    def comparable(self) -> int | None:
        """The grade for comparisons over time (M-TOCI-LIMITS, M-G2-ESCALATE, the grade history).

        With fever unknown the grade is only a lower bound of 0, so it is unknown, never 0. Reading: so is a
        grade with both blood pressure and oxygen unknown (fever alone, or a C2 waiver, says 0 or 1 and
        nothing of grades 2-4).
        """
        if "fever" in self.unknown or {"hypotension", "hypoxia"} <= set(self.unknown):
            return None
        return self.grade

    @property
    def support_class(self) -> int:
        return max(self.hypotension or 0, self.hypoxia or 0)


def grade_at(ctx: Episode, moment: datetime) -> GradeResult:
    """G-GRADE: max(fever 1, hypotension class, hypoxia class) with fever or waiver, else 0.

    Computed once per moment of an assessment: the escalation rule and the grade at a dose re-read moments.
    """
    key = (moment, moment.tzinfo)
    result = ctx.grades.get(key)
    if result is None:
        result = ctx.grades[key] = _grade_at(ctx, moment)
    return result


def _grade_at(ctx: Episode, moment: datetime) -> GradeResult:
    fever, fever_evidence = fever_state(ctx, moment)
    waiver = waiver_dose(ctx, moment) if not fever else None
    vasopressors = active_vasopressors(ctx, moment)
    hypotension, bp_evidence, bp_flags = hypotension_class(ctx, moment, vasopressors)
    hypoxia, o2_evidence, o2_flags = hypoxia_class(ctx, moment)
    known = {"fever": fever is not None or waiver is not None, "hypotension": hypotension is not None}
    known["hypoxia"] = hypoxia is not None
    unknown = tuple(name for name in SUPPORT_CLASS_KEYS if not known[name])
    flags = set(bp_flags | o2_flags)
    grade: int | None = _combine(fever, waiver is not None, hypotension, hypoxia, flags)
    possible = _possible_grade("fever" in unknown, max(hypotension or 0, hypoxia or 0), flags)
    if len(unknown) == len(SUPPORT_CLASS_KEYS):
        grade = None  # C3: fever, BP and oxygen all unknown: insufficient recent data, never 0
    if unknown:
        flags.add("partial-data")  # C3
    evidence = (*fever_evidence, *_waiver_evidence(waiver), *bp_evidence, *o2_evidence)
    return GradeResult(
        moment, grade, fever, waiver, hypotension, hypoxia, vasopressors, frozenset(flags), unknown, evidence, possible
    )


def _combine(fever: bool | None, waived: bool, hypotension: int | None, hypoxia: int | None, flags: set[str]) -> int:
    support = max(hypotension or 0, hypoxia or 0)
    if fever or waived:  # G-GRADE
        return max(1 if fever else 0, support)
    if support >= 2 and fever is False:
        flags.add("support-without-fever")  # G-GRADE: only when fever is known to be absent (C3-FEVER-UNKNOWN)
    return 0


def _possible_grade(fever_unknown: bool, support: int, flags: set[str]) -> int | None:
    """C3-FEVER-UNKNOWN: no temperature in 24 h (no waiver) with a support class N >= 2: "0, or N if febrile"."""
    if not fever_unknown or support < 2:
        return None
    flags.add("fever-unknown")
    return support


def fever_state(ctx: Episode, moment: datetime) -> tuple[bool | None, tuple[Evidence, ...]]:
    """C1: True with a reading >= threshold in the window, False with readings all below, None without any."""
    window = ctx.hours(ctx.policy.fever.window_hours)
    readings = ctx.timeline.temperatures.between(moment - window, moment)
    if not readings:
        return None, ()
    hottest = max(readings, key=_TEMP_C)  # the first of the hottest, as a lambda would pick
    febrile = hottest.temp_c >= ctx.policy.fever.threshold_c  # C1
    evidence = Evidence(
        "C1",
        "C1.highest-temperature",
        hottest.at,
        (hottest.source,),
        {"temp": hottest.temp_c, "hours": window_hours(ctx)},
    )
    return febrile, (evidence,)


def window_hours(ctx: Episode) -> float:
    return ctx.policy.fever.window_hours


def waiver_dose(ctx: Episode, moment: datetime) -> Administration | None:
    """C2: the latest antipyretic or anticytokine dose given after a fever since t0 and still in its window."""
    first_fever = first_fever_since_t0(ctx, moment)
    if first_fever is None:
        return None
    windows = waiver_windows(ctx.policy)
    qualifying = [
        dose
        for dose in ctx.timeline.administrations.between(first_fever.at, moment)
        if dose.at > first_fever.at and dose.drug in windows and moment - dose.at <= windows[dose.drug]
    ]
    return qualifying[-1] if qualifying else None


def waiver_windows(policy: Policy) -> dict[str, timedelta]:
    return policy.derived("waiver-windows", _waiver_windows)


def _waiver_windows(policy: Policy) -> dict[str, timedelta]:
    waiver = policy.waiver
    by_role = {
        "antipyretic": waiver.antipyretic_hours,
        "corticosteroid": waiver.corticosteroid_hours,
        "tocilizumab": waiver.il6_blocker_hours,
        "siltuximab": waiver.il6_blocker_hours,
        "anakinra": waiver.anakinra_hours,
    }
    windows: dict[str, timedelta] = {}
    for key, drug in policy.drugs.items():
        hours = [by_role[role] for role in drug.roles if role in by_role]
        if hours:
            windows[key] = timedelta(hours=max(hours))
    return windows


def _waiver_evidence(dose: Administration | None) -> tuple[Evidence, ...]:
    if dose is None:
        return ()
    params: dict[str, Param] = {"drug": dose.drug}
    if dose.dose_mg is not None:
        params["dose"] = dose.dose_mg
    return (Evidence("C2", "C2.waiver", dose.at, (dose.source,), params),)


def vasopressor_class(ctx: Episode, active: tuple[Administration, ...]) -> int | None:
    """G-VASOPRESSOR: vasopressin alone 3; one other agent 3 (with or without vasopressin); two or more 4."""
    agents = {dose.drug for dose in active}
    if not agents:
        return None
    others = {agent for agent in agents if not ctx.policy.has_role(agent, "vasopressin")}
    return 4 if len(others) >= 2 else 3


def hypotension_class(
    ctx: Episode, moment: datetime, vasopressors: tuple[Administration, ...]
) -> tuple[int | None, tuple[Evidence, ...], frozenset[str]]:
    pressor_class = vasopressor_class(ctx, vasopressors)
    others = _infusions_not_counted(ctx, moment)
    if pressor_class is not None:  # G-VASOPRESSOR sets the class, BP or not
        return pressor_class, (*_infusion_evidence(vasopressors, "G-VASOPRESSOR.running"), *others), frozenset()
    age = age_in_years(ctx.timeline.birth_date, moment)
    flags = frozenset({"age-unknown"}) if age is None else frozenset()
    reading = latest_blood_pressure(ctx, moment)
    if reading is None:
        return None, others, flags
    sbp_below, map_below = hypotension_limits(ctx.policy, age)
    value = 2 if is_hypotensive(reading, sbp_below, map_below) else 0  # G-HYPOTENSION
    return value, (_bp_evidence(reading, sbp_below, map_below), *others), flags


def _infusion_evidence(doses: Iterable[Administration], key: str) -> tuple[Evidence, ...]:
    """One line per infusion, at the time it started (never the assessment time)."""
    return tuple(
        Evidence("G-VASOPRESSOR", key, dose.at, (dose.source,), {"drug": dose.drug})
        for dose in sorted(doses, key=lambda d: (d.at, d.drug))
    )


def _infusions_not_counted(ctx: Episode, moment: datetime) -> tuple[Evidence, ...]:
    """G-VASOPRESSOR: paused infusions and inotropes are named in the detail, not counted."""
    return (
        *_infusion_evidence(paused_infusions(ctx, moment), "G-VASOPRESSOR.paused"),
        *_infusion_evidence(running_inotropes(ctx, moment), "G-VASOPRESSOR.inotrope"),
    )


def _bp_evidence(reading: BloodPressure, sbp_below: float, map_below: float | None) -> Evidence:
    """The latest blood pressure with the thresholds it was compared with (MAP: adults only)."""
    params: dict[str, Param] = {"sbp_below": sbp_below}
    if reading.systolic_mmhg is not None:
        params["systolic"] = reading.systolic_mmhg
    mean, computed = mean_pressure(reading, map_below is not None)
    if mean is not None and map_below is not None:
        params |= {"map": mean, "map_below": map_below}
    key = "G-HYPOTENSION.computed-map" if computed else "G-HYPOTENSION.blood-pressure"
    return Evidence("G-HYPOTENSION", key, reading.at, (reading.source,), params)


def hypoxia_class(ctx: Episode, moment: datetime) -> tuple[int | None, tuple[Evidence, ...], frozenset[str]]:
    support = current_oxygen(ctx, moment)
    if support is None:
        return None, (), frozenset()  # C3: SpO2 alone does not document support
    value, flag = classify_oxygen(support, ctx.policy)
    return value, (_oxygen_evidence(support),), frozenset({flag} if flag else ())


def classify_oxygen(support: OxygenSupport, policy: Policy) -> tuple[int | None, str | None]:
    """G-HYPOXIA class of one documentation of oxygen support, and the flag it raises if any."""
    return oxygen_class(support.device, support.flow_l_min, support.fio2_pct, policy)


def oxygen_class(
    device: OxygenDeviceClass | None, flow: float | None, fio2: float | None, policy: Policy
) -> tuple[int | None, str | None]:
    """``classify_oxygen`` of the device class, flow and FiO2 (the grade history reads no whole support)."""
    low_flow_max = policy.support.low_flow_max_l_min
    if device == "positive-pressure":
        if fio2 is not None and fio2 <= policy.support.room_air_fio2_max_pct:
            return 0, "positive-pressure-without-oxygen"
        return 4, None
    if device == "high-flow":
        return 3, None
    if device == "blow-by":
        return 2, None
    if device == "nasal-cannula":
        return (3 if flow is not None and flow > low_flow_max else 2), None
    if flow is not None and flow > 0:
        return (3 if flow > low_flow_max else 2), None
    if device == "room-air" or flow == 0:
        return 0, None
    if fio2 is not None:
        return (0 if fio2 <= policy.support.room_air_fio2_max_pct else 2), None
    return None, None


def _oxygen_evidence(support: OxygenSupport) -> Evidence:
    params: dict[str, Param] = {}
    if support.device_name:
        params["device"] = support.device_name
    if support.flow_l_min is not None:
        params["flow"] = support.flow_l_min
    if support.fio2_pct is not None:
        params["fio2"] = support.fio2_pct
    key = "G-HYPOXIA.room-air" if support.device == "room-air" and not support.device_name else "G-HYPOXIA.oxygen"
    return Evidence("G-HYPOXIA", key, support.at, (support.source,), params)
