"""M-G2-ESCALATE: no improvement 24 h after the first tocilizumab dose given since the managed grade last rose
to >= 2.

The rise is found in the grade history: the managed grade (``history.managed_grade_at``) at each data event,
read backwards from now. The scan asks only "managed grade >= 2, or not comparable?" at each event, so it reads
only the facts that answer it (no evidence, no full grade) with binary searches over the sorted series:
``managed_at_least_2`` is ``managed_grade_at(ctx, moment) >= 2`` (None when that is None), fact for fact.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.crs.episode import Episode
from service.crs.grading import GradeResult, grade_at, oxygen_class, waiver_windows
from service.crs.history import hlh_criteria, persistent_fever
from service.crs.policy import Policy
from service.crs.timeline import Administration
from service.crs.vitals import (
    age_in_years,
    any_vasopressor_running,
    first_fever_since_t0,
    hypotension_limits,
    is_hypotensive,
    latest_blood_pressure,
    oxygen_records,
)

LOWEST = datetime.min.replace(tzinfo=UTC)

MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Escalation:
    reference_dose: Administration
    grade_at_dose: int


def no_improvement_after_tocilizumab(ctx: Episode, current: GradeResult, now: datetime) -> Escalation | None:
    """M-G2-ESCALATE: first tocilizumab dose after the managed grade last rose to >= 2, given >= 24 h ago,
    and the grade now not lower than at that dose. An unknown grade now does not escalate."""
    grade_now = current.comparable
    if grade_now is None:
        return None
    tocilizumab = ctx.policy.drugs_with_role("tocilizumab")
    doses = ctx.timeline.given(tocilizumab, now)
    if not doses or now - doses[0].at < ctx.hours(ctx.policy.management.no_improvement_hours):
        return None
    rise = last_rise_to_grade_2(ctx, now, stop_before=doses[0].at)
    reference = next((dose for dose in doses if rise is not None and dose.at >= rise), None)
    if reference is None or now - reference.at < ctx.hours(ctx.policy.management.no_improvement_hours):
        return None
    grade_then = grade_at_dose(ctx, reference.at)
    if grade_now < grade_then:
        return None  # improvement compares ASTCT grades
    return Escalation(reference, grade_then)


def grade_at_dose(ctx: Episode, dose_at: datetime) -> int:
    """M-G2-ESCALATE: the latest known grade in the 24 h up to the dose; none known: 2, since the dose was
    given for managed grade >= 2 (an unknown grade never blocks escalation for ever)."""
    window = event_times_between(ctx, dose_at - ctx.hours(24), dose_at, dose_at)
    moments = [dose_at, *reversed([m for m in window if m != dose_at])]
    for moment in moments:
        grade = grade_at(ctx, moment).comparable
        if grade is not None:
            return grade
    return 2


def last_rise_to_grade_2(ctx: Episode, now: datetime, stop_before: datetime | None = None) -> datetime | None:
    """M-G2-ESCALATE: when the managed grade last rose to >= 2; null grades neither break nor start a rise.

    The grade history is read backwards from now. ``stop_before`` (the first dose): once the current
    stretch of managed grade >= 2 reaches back before it, an earlier rise cannot change the answer (the
    caller needs the first dose after the rise), so the scan stops instead of reading the whole stay.
    """
    rise: datetime | None = None
    for moment in events_backwards(ctx, now):
        at_least_2 = managed_at_least_2(ctx, moment)
        if at_least_2 is None:
            continue
        if not at_least_2:
            return rise
        rise = moment
        if stop_before is not None and moment < stop_before:
            return rise
    return rise


def events_backwards(ctx: Episode, now: datetime) -> Iterator[datetime]:
    """``history.event_times(ctx, now)`` newest first, found a stretch at a time (a day, then twice as long
    each time): the scan usually stops within days, so a long stay is not gathered and sorted whole."""
    high, span = now, timedelta(hours=24)
    while True:
        last = high - ctx.start <= span  # the last stretch reaches back past t0 (dose ends may lie before it)
        low = LOWEST if last else high - span
        yield from reversed(event_times_between(ctx, low, high, now))
        if last:
            return
        high, span = low - MICROSECOND, span * 2


def event_times_between(ctx: Episode, low: datetime, high: datetime, now: datetime) -> list[datetime]:
    """The times of ``history.event_times(ctx, now)`` from ``low`` to ``high``, each instant as that function
    gives it (the first record of the instant in the same order: temperatures, pressures, oxygen, doses)."""
    timeline = ctx.timeline
    since = max(low, ctx.start)
    times = {r.at for r in timeline.temperatures.between(since, high)}
    times |= {r.at for r in timeline.blood_pressures.between(since, high)}
    times |= {r.at for r in timeline.oxygen.between(since, high)}
    for dose in timeline.administrations.between(ctx.start, now):
        if low <= dose.at <= high:
            times.add(dose.at)
        if dose.end is not None and dose.end <= now and low <= dose.end <= high:
            times.add(dose.end)
    return sorted(times)


def managed_at_least_2(ctx: Episode, moment: datetime) -> bool | None:
    """``managed_grade_at(ctx, moment) >= 2``, None when that is None (a grade below 2 that is not comparable).

    G-GRADE: the grade is 2 or more when fever (or a C2 waiver) comes with a support class of 2 or more; any
    running vasopressor is class 3 or 4. M-G1-PERSISTENT and M-HLH raise it, so they are read only below 2.
    Not comparable (``GradeResult.comparable``): fever unknown, or blood pressure and oxygen both unknown.
    """
    fever = _fever(ctx, moment)
    if fever is True or _waived(ctx, moment):  # C2 is read only without a fever, as ``grade_at`` does
        return _graded_at_least_2(ctx, moment)
    if persistent_fever(ctx, moment) is not None or hlh_criteria(ctx, moment) is not None:
        return True
    if fever is None:
        return None  # fever unknown: not comparable
    return False if _support_known(ctx, moment) else None


def _graded_at_least_2(ctx: Episode, moment: datetime) -> bool | None:
    """With fever (or a waiver) the grade is the support class: 2 or more, else raised or not comparable."""
    if any_vasopressor_running(ctx, moment):
        return True
    hypotension = _hypotension(ctx, moment)
    if (hypotension or 0) >= 2:
        return True
    hypoxia = _hypoxia(ctx, moment)
    if (hypoxia or 0) >= 2:
        return True
    if persistent_fever(ctx, moment) is not None or hlh_criteria(ctx, moment) is not None:
        return True
    return None if hypotension is None and hypoxia is None else False


def _support_known(ctx: Episode, moment: datetime) -> bool:
    """A hypotension class (a running vasopressor, or a blood pressure) or a hypoxia class is known."""
    return (
        any_vasopressor_running(ctx, moment)
        or _hypotension(ctx, moment) is not None
        or _hypoxia(ctx, moment) is not None
    )


def _fever(ctx: Episode, moment: datetime) -> bool | None:
    """``grading.fever_state``'s answer: a reading >= the threshold in the window, readings all below, none."""
    window = ctx.hours(ctx.policy.fever.window_hours)
    temperatures = ctx.timeline.temperatures
    if temperatures.latest(moment, window) is None:
        return None
    since = moment - window
    if since < ctx.start:  # the window reaches before t0, where ``ctx.fevers`` does not look
        return max(reading.temp_c for reading in temperatures.between(since, moment)) >= ctx.policy.fever.threshold_c
    times = ctx.fever_times
    return bisect_right(times, moment) > bisect_left(times, since)


def _waived(ctx: Episode, moment: datetime) -> bool:
    """``grading.waiver_dose`` is not None: a waiver drug given after the first fever since t0, in its window."""
    first_fever = first_fever_since_t0(ctx, moment)
    if first_fever is None:
        return False
    windows = waiver_windows(ctx.policy)
    longest = ctx.policy.derived("longest-waiver-window", _longest_window)
    for dose in reversed(ctx.timeline.given(ctx.policy.derived("waiver-drugs", _waiver_drugs), moment)):
        if dose.at <= first_fever.at or moment - dose.at > longest:
            return False  # older doses are older still: none can qualify
        if moment - dose.at <= windows[dose.drug]:
            return True
    return False


def _waiver_drugs(policy: Policy) -> frozenset[str]:
    return frozenset(waiver_windows(policy))


def _longest_window(policy: Policy) -> timedelta:
    return max(waiver_windows(policy).values(), default=timedelta(0))


def _hypotension(ctx: Episode, moment: datetime) -> int | None:
    """``grading.hypotension_class`` without a running vasopressor: 2 below the limits, 0 above, None unknown."""
    reading = latest_blood_pressure(ctx, moment)
    if reading is None:
        return None
    sbp_below, map_below = hypotension_limits(ctx.policy, age_in_years(ctx.timeline.birth_date, moment))
    return 2 if is_hypotensive(reading, sbp_below, map_below) else 0


def _hypoxia(ctx: Episode, moment: datetime) -> int | None:
    """``grading.hypoxia_class``: the G-HYPOXIA class of the current oxygen support, None when undocumented."""
    device, flow, fio2 = oxygen_records(ctx, moment)
    if device is None and flow is None and fio2 is None:
        return None
    device_class = device.device if device else None
    return oxygen_class(device_class, flow.flow_l_min if flow else None, fio2.fio2_pct if fio2 else None, ctx.policy)[0]
