"""ASTCT grading at one moment: fever (C1), waiver (C2), freshness (C3), hypotension, vasopressors,
hypoxia and the grade (G-rules). Pure: ``grade_at`` reads only data at or before ``moment``, so the
same function computes the grade now and the grade history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from service.crs.evidence import Evidence, fmt_number
from service.crs.policy import Policy
from service.crs.timeline import Administration, BloodPressure, OxygenSupport, Temperature, Timeline

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
SUPPORT_CLASS_KEYS = ("fever", "hypotension", "hypoxia")


@dataclass(frozen=True)
class Context:
    """What every rule needs: the data, the policy and the first CAR T infusion (t0, None if not given)."""

    timeline: Timeline
    policy: Policy
    t0: datetime | None

    def hours(self, value: float) -> timedelta:
        return timedelta(hours=value)

    @property
    def start(self) -> datetime:
        """t0, or the earliest time the engine considers when no CAR T infusion is recorded."""
        return self.t0 or EARLIEST


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


def grade_at(ctx: Context, moment: datetime) -> GradeResult:
    """G-GRADE: max(fever 1, hypotension class, hypoxia class) with fever or waiver, else 0."""
    fever, fever_evidence = fever_state(ctx, moment)
    waiver = waiver_dose(ctx, moment) if not fever else None
    vasopressors = active_vasopressors(ctx, moment)
    hypotension, bp_evidence, bp_flags = hypotension_class(ctx, moment, vasopressors)
    hypoxia, o2_evidence, o2_flags = hypoxia_class(ctx, moment)
    known = {"fever": fever is not None or waiver is not None, "hypotension": hypotension is not None}
    known["hypoxia"] = hypoxia is not None
    unknown = tuple(name for name in SUPPORT_CLASS_KEYS if not known[name])
    flags = set(bp_flags | o2_flags)
    grade: int | None = _combine(fever is True, waiver is not None, hypotension, hypoxia, flags)
    if len(unknown) == len(SUPPORT_CLASS_KEYS):
        grade = None  # C3: fever, BP and oxygen all unknown: insufficient recent data, never 0
    if unknown:
        flags.add("partial-data")  # C3
    evidence = (*fever_evidence, *_waiver_evidence(waiver), *bp_evidence, *o2_evidence)
    return GradeResult(
        moment, grade, fever, waiver, hypotension, hypoxia, vasopressors, frozenset(flags), unknown, evidence
    )


def _combine(fever: bool, waived: bool, hypotension: int | None, hypoxia: int | None, flags: set[str]) -> int:
    support = max(hypotension or 0, hypoxia or 0)
    if fever or waived:  # G-GRADE
        return max(1 if fever else 0, support)
    if support >= 2:
        flags.add("support-without-fever")  # G-GRADE: CRS criteria not met, evaluate other causes
    return 0


def fever_state(ctx: Context, moment: datetime) -> tuple[bool | None, tuple[Evidence, ...]]:
    """C1: True with a reading >= threshold in the window, False with readings all below, None without any."""
    window = ctx.hours(ctx.policy.fever.window_hours)
    readings = ctx.timeline.temperatures.between(moment - window, moment)
    if not readings:
        return None, ()
    hottest = max(readings, key=lambda reading: reading.temp_c)
    febrile = hottest.temp_c >= ctx.policy.fever.threshold_c  # C1
    return febrile, (_temperature_evidence("C1", hottest, "highest temperature in 24 h"),)


def _temperature_evidence(rule: str, reading: Temperature, what: str) -> Evidence:
    return Evidence(rule, f"{what}: {fmt_number(reading.temp_c)} °C", reading.at, (reading.source,))


def first_fever_since_t0(ctx: Context, moment: datetime) -> Temperature | None:
    start = ctx.start
    threshold = ctx.policy.fever.threshold_c
    return next((t for t in ctx.timeline.temperatures.between(start, moment) if t.temp_c >= threshold), None)


def waiver_dose(ctx: Context, moment: datetime) -> Administration | None:
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
    return (Evidence("C2", f"fever not required: {dose.drug} given after a fever", dose.at, (dose.source,)),)


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
    low_sbp = reading.systolic_mmhg is not None and reading.systolic_mmhg < sbp_below
    low_map = map_below is not None and reading.mean_mmhg is not None and reading.mean_mmhg < map_below
    return low_sbp or low_map


def is_running(dose: Administration, moment: datetime, recent_end: timedelta) -> bool:
    """G-VASOPRESSOR activity. Reading: a completed or stopped infusion with no end time is not running."""
    if not dose.is_infusion or dose.at > moment:
        return False
    if dose.status == "in-progress":
        return True
    if dose.end is None:
        return dose.status not in ("completed", "stopped")
    return dose.end >= moment - recent_end


def active_vasopressors(ctx: Context, moment: datetime) -> tuple[Administration, ...]:
    pressors = ctx.policy.drugs_with_role("vasopressor")
    recent_end = ctx.hours(ctx.policy.support.vasopressor_recent_end_hours)
    return tuple(dose for dose in ctx.timeline.given(pressors, moment) if is_running(dose, moment, recent_end))


def vasopressor_class(ctx: Context, active: tuple[Administration, ...]) -> int | None:
    """G-VASOPRESSOR: vasopressin alone 3; one other agent 3 (with or without vasopressin); two or more 4."""
    agents = {dose.drug for dose in active}
    if not agents:
        return None
    others = {agent for agent in agents if not ctx.policy.has_role(agent, "vasopressin")}
    return 4 if len(others) >= 2 else 3


def latest_blood_pressure(ctx: Context, moment: datetime) -> BloodPressure | None:
    """C3: the latest reading in 24 h; standalone SBP and MAP taken at the same time are merged."""
    window = ctx.hours(ctx.policy.freshness.vitals_hours)
    latest = ctx.timeline.blood_pressures.latest(moment, window)
    if latest is None:
        return None
    same_time = ctx.timeline.blood_pressures.between(latest.at, latest.at)
    systolic = next((r.systolic_mmhg for r in same_time if r.systolic_mmhg is not None), None)
    mean = next((r.mean_mmhg for r in same_time if r.mean_mmhg is not None), None)
    return BloodPressure(latest.at, systolic, mean, ", ".join(sorted({r.source for r in same_time})))


def hypotension_class(
    ctx: Context, moment: datetime, vasopressors: tuple[Administration, ...]
) -> tuple[int | None, tuple[Evidence, ...], frozenset[str]]:
    pressor_class = vasopressor_class(ctx, vasopressors)
    if pressor_class is not None:  # G-VASOPRESSOR sets the class, BP or not
        names = ", ".join(sorted({dose.drug for dose in vasopressors}))
        sources = tuple(dose.source for dose in vasopressors)
        return (
            pressor_class,
            (Evidence("G-VASOPRESSOR", f"running vasopressor infusion: {names}", moment, sources),),
            frozenset(),
        )
    age = age_in_years(ctx.timeline.birth_date, moment)
    flags = frozenset({"age-unknown"}) if age is None else frozenset()
    reading = latest_blood_pressure(ctx, moment)
    if reading is None:
        return None, (), flags
    sbp_below, map_below = hypotension_limits(ctx.policy, age)
    value = 2 if is_hypotensive(reading, sbp_below, map_below) else 0  # G-HYPOTENSION
    return value, (_bp_evidence(reading),), flags


def _bp_evidence(reading: BloodPressure) -> Evidence:
    parts = []
    if reading.systolic_mmhg is not None:
        parts.append(f"systolic {fmt_number(reading.systolic_mmhg)} mmHg")
    if reading.mean_mmhg is not None:
        parts.append(f"MAP {fmt_number(reading.mean_mmhg)} mmHg")
    return Evidence("G-HYPOTENSION", "latest blood pressure: " + ", ".join(parts), reading.at, (reading.source,))


def current_oxygen(ctx: Context, moment: datetime) -> OxygenSupport | None:
    """C3: the latest device documentation in 24 h, with the latest flow and FiO2 documented since it."""
    window = ctx.hours(ctx.policy.freshness.vitals_hours)
    oxygen = ctx.timeline.oxygen
    device = oxygen.latest(moment, window, where=lambda record: record.device is not None)
    since = device.at if device else moment - window
    flow = oxygen.latest(moment, moment - since, where=lambda record: record.flow_l_min is not None)
    fio2 = oxygen.latest(moment, moment - since, where=lambda record: record.fio2_pct is not None)
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
    )


def hypoxia_class(ctx: Context, moment: datetime) -> tuple[int | None, tuple[Evidence, ...], frozenset[str]]:
    support = current_oxygen(ctx, moment)
    if support is None:
        return None, (), frozenset()  # C3: SpO2 alone does not document support
    value, flag = classify_oxygen(support, ctx.policy)
    return value, (_oxygen_evidence(support),), frozenset({flag} if flag else ())


def classify_oxygen(support: OxygenSupport, policy: Policy) -> tuple[int | None, str | None]:
    """G-HYPOXIA class of one documentation of oxygen support, and the flag it raises if any."""
    low_flow_max = policy.support.low_flow_max_l_min
    flow, fio2, device = support.flow_l_min, support.fio2_pct, support.device
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
    parts = [support.device_name or ("room air" if support.device == "room-air" else "no device documented")]
    if support.flow_l_min is not None:
        parts.append(f"{fmt_number(support.flow_l_min)} L/min")
    if support.fio2_pct is not None:
        parts.append(f"FiO2 {fmt_number(support.fio2_pct)} %")
    return Evidence("G-HYPOXIA", "oxygen support: " + ", ".join(parts), support.at, (support.source,))
