"""Rules that look back over time: scope (C0), febrile runs, the managed grade history (read by
``escalation``), HLH, ICANS, monitoring (C4)."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

from service.crs.assessment import Note, note
from service.crs.episode import Episode
from service.crs.grading import GradeResult, grade_at
from service.crs.timeline import Administration, IcansAssessment, LabResult, Temperature


def car_t_infusions(ctx: Episode, now: datetime) -> tuple[Administration, ...]:
    return ctx.timeline.given(ctx.policy.drugs_with_role("car-t"), now)


def in_scope(ctx: Episode, grade: int | None, now: datetime) -> bool:
    """C0: from t0 to 30 days after the last infusion, and beyond while grade >= 1 or treated in 72 h."""
    infusions = car_t_infusions(ctx, now)
    if not infusions:
        return False
    management = ctx.policy.management
    if now - infusions[-1].at <= timedelta(days=management.scope_days_after_last_infusion):
        return True
    treatments = ctx.policy.drugs_with_role("corticosteroid") | ctx.policy.drugs_with_role("tocilizumab")
    recent = ctx.hours(management.scope_recent_treatment_hours)
    treated = any(now - dose.at <= recent for dose in ctx.timeline.given(treatments, now))
    return (grade is not None and grade >= 1) or treated


def current_febrile_run(ctx: Episode, now: datetime) -> tuple[Temperature, Temperature] | None:
    """(first, last) fever of the run containing the latest fever since t0; gaps < 24 h keep a run going."""
    last = bisect_right(ctx.fever_times, now) - 1
    if last < 0:
        return None
    return ctx.fevers[ctx.febrile_run_start(last)], ctx.fevers[last]


def persistent_fever(ctx: Episode, now: datetime) -> tuple[Temperature, Temperature] | None:
    """M-G1-PERSISTENT: the run's last fever within 24 h and more than 72 h after its first (72 h exactly: no)."""
    run = current_febrile_run(ctx, now)
    if run is None:
        return None
    first, last = run
    management = ctx.policy.management
    recent = now - last.at <= ctx.hours(ctx.policy.fever.window_hours)
    long_enough = last.at - first.at > ctx.hours(management.persistent_fever_hours)
    return run if recent and long_enough else None


def event_times(ctx: Episode, now: datetime) -> list[datetime]:
    """Times at which data changed since t0: the points of the grade history (``escalation`` walks them
    backwards with ``events_backwards``, which gives the same instants)."""
    start = ctx.start
    timeline = ctx.timeline
    times = {r.at for r in timeline.temperatures.between(start, now)}
    times |= {r.at for r in timeline.blood_pressures.between(start, now)}
    times |= {r.at for r in timeline.oxygen.between(start, now)}
    for dose in timeline.administrations.between(start, now):
        times.add(dose.at)
        if dose.end is not None and dose.end <= now:
            times.add(dose.end)
    return sorted(times)


def managed_grade_at(ctx: Episode, moment: datetime) -> int | None:
    """The managed grade at ``moment`` before M-G2-ESCALATE: the grade raised by M-G1-PERSISTENT and M-HLH.

    A lower bound of 2 or more is a definite "managed grade >= 2"; below 2, a grade that cannot be compared
    (``GradeResult.comparable``) is None: it neither breaks nor starts a rise.
    """
    result = grade_at(ctx, moment)
    managed = result.grade or 0
    if persistent_fever(ctx, moment) is not None:
        managed = max(managed, 2)
    if hlh_criteria(ctx, moment) is not None:
        managed = max(managed, 3)
    if managed >= 2:
        return managed
    return None if result.comparable is None else managed


LOWER_IS_WORSE = frozenset({"anc"})


def latest_lab(ctx: Episode, kind: str, moment: datetime) -> LabResult | None:
    """C3: the latest result in 48 h; two at the same instant: the most severe (R-TIES)."""
    window = ctx.hours(ctx.policy.freshness.labs_hours)
    same_time = ctx.timeline.labs.latest_all(moment, window, where=lambda lab: lab.kind == kind)
    if not same_time:
        return None
    pick = min if kind in LOWER_IS_WORSE else max
    return pick(same_time, key=lambda lab: lab.value)


ORGAN_LABS = {
    "alt": ("ALT", "U/L"),
    "ast": ("AST", "U/L"),
    "bilirubin": ("bilirubin", "mg/dL"),
    "creatinine": ("creatinine", "mg/dL"),
}


def organ_limits(ctx: Episode, lab: LabResult) -> tuple[float, float]:
    """(multiple of the upper limit of normal, the ULN: the lab's referenceRange.high, else the policy's)."""
    hlh = ctx.policy.hlh
    multiple = (
        hlh.transaminase_uln_multiple
        if lab.kind in ("alt", "ast")
        else (hlh.bilirubin_uln_multiple if lab.kind == "bilirubin" else hlh.creatinine_uln_multiple)
    )
    return multiple, lab.upper_limit or hlh.default_uln[lab.kind]  # type: ignore[index]


def severe_organ_toxicity(ctx: Episode, moment: datetime) -> list[LabResult]:
    """M-HLH: CTCAE grade >= 3 from labs: ALT or AST > 5 x ULN, bilirubin or creatinine > 3 x ULN."""
    severe = []
    for kind in ORGAN_LABS:
        lab = latest_lab(ctx, kind, moment)
        if lab is not None:
            multiple, uln = organ_limits(ctx, lab)
            if lab.value > multiple * uln:
                severe.append(lab)
    return severe


def organ_finding(ctx: Episode, lab: LabResult) -> Note:
    """M-HLH: a severe organ lab with the limit it exceeds (the multiple is policy, the ULN the lab's or policy's)."""
    name, unit = ORGAN_LABS[lab.kind]
    multiple, uln = organ_limits(ctx, lab)
    return note("M-HLH", "M-HLH.organ", lab=name, value=lab.value, unit=unit, multiple=multiple, uln=uln, at=lab.at)


def hlh_criteria(ctx: Episode, moment: datetime) -> tuple[LabResult, list[LabResult]] | None:
    """M-HLH: ferritin > 10,000 ng/mL (10,000 itself does not qualify) and a severe organ toxicity."""
    ferritin = latest_lab(ctx, "ferritin", moment)
    if ferritin is None or ferritin.value <= ctx.policy.hlh.ferritin_above_ng_ml:
        return None
    organs = severe_organ_toxicity(ctx, moment)
    return (ferritin, organs) if organs else None


def hlh_first_met(ctx: Episode, now: datetime) -> datetime | None:
    """Start of the current stretch in which the HLH criteria hold, checked at each lab time."""
    first: datetime | None = None
    for lab in reversed(ctx.timeline.labs.up_to(now)):
        if hlh_criteria(ctx, lab.at) is None:
            break
        first = lab.at
    return first


def latest_icans(ctx: Episode, now: datetime) -> IcansAssessment | None:
    """C3: latest ICANS in 24 h; a grade beats an ICE score documented at the same time."""
    same_time = ctx.timeline.icans.latest_all(now, ctx.hours(ctx.policy.freshness.vitals_hours))
    if not same_time:
        return None
    return min(same_time, key=lambda record: (record.from_ice_score, -record.grade))  # R-TIES: the highest grade


def overdue_vitals(ctx: Episode, now: datetime) -> list[str]:
    """C4: each of temperature, blood pressure and SpO2 older than 4 h, or never measured since t0."""
    interval = ctx.hours(ctx.policy.freshness.vitals_interval_hours)
    start = ctx.start
    timeline = ctx.timeline
    overdue = []
    for name, series in (
        ("temperature", timeline.temperatures),
        ("blood pressure", timeline.blood_pressures),
        ("SpO2", timeline.spo2),
    ):
        latest = series.latest(now, within=now - start)  # the latest since t0, without a copy of all since
        if latest is None or now - latest.at > interval:
            overdue.append(name)
    return overdue


def grade_history(ctx: Episode, now: datetime) -> tuple[GradeResult, ...]:
    """The ASTCT grade at each event time since t0 (``event_times``), the events the escalation rule reads.

    Read-only accessor for views of the episode (the timeline page); adds no rule of its own.
    """
    return tuple(grade_at(ctx, moment) for moment in event_times(ctx, now))
