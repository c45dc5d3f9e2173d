"""Issue 13: the speed-ups change no clinical result.

The oracle is the straightforward code the speed-ups replaced, kept here: the grade re-computed at every
moment asked (no memo), the escalation rule's scan reading the full managed grade at each event (and every
fever's run computed up front, blood pressures merged after a filtered look-up), the oxygen
support found by filters over all oxygen records, the doses of a drug set filtered from all administrations
at each question, the policy's role sets and waiver windows re-derived at each question, ``Series.latest``
over a copy of the past, ``Series.between`` searched from one microsecond before its start, and in
translation the per-Observation set unions, an uncached timestamp parser, the old coding readers and the series sorted by a Python key, every Observation read on the general path (no
``PlainReaders`` short path) and the records built by the dataclass ``__init__`` (no ``quick_init``).
Every fixture in ``fhir_fixtures/`` and a generated sample of multi-day charts are translated and assessed
both ways; the timelines, the full assessments and the grade history (with the escalation scan's
"managed grade >= 2" at every event) must be equal. The generated charts hold what the grade history reads:
ties at one instant, stretches without temperatures or without blood pressure and oxygen, vitals before t0,
tocilizumab doses, vasopressors running, ended and paused, oxygen devices, flows and FiO2, children's ages.
``test_escalation_scan_changes_no_result`` reads the escalation scan against the same oracle at its edges.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import given as for_all
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from service.crs import escalation, grading, history, timeline, vitals
from service.crs.assessment import Assessment, Param, note
from service.crs.engine import assess, check_drafts
from service.crs.episode import Episode
from service.crs.history import car_t_infusions, event_times, grade_history, managed_grade_at
from service.crs.policy import Policy
from service.crs.timeline import Administration, BloodPressure, OxygenSupport, Series, Temperature, Timeline
from service.fhir import fields, observations
from service.fhir.fields import FhirResource, codings
from service.fhir.observations import ObservationCodes, ObservationRecords
from service.fhir.plain_observations import PlainReaders
from service.fhir.translate import Translator
from service.fixtures import FIXTURES_DIR, anchor_of, fixture_paths, read_fixture, resources_of, shifted
from tests import fhir_builders as b
from tests.golden_cases import CASES

T = TypeVar("T")
POLICY = b.POLICY
RECORDS: list[type[Any]] = [
    cls
    for cls in vars(timeline).values()
    if isinstance(cls, type) and hasattr(vars(cls).get("__init__"), "__wrapped__")
]


def reference_given(self: Timeline, drugs: frozenset[str], up_to: datetime) -> tuple[Administration, ...]:
    return tuple(dose for dose in self.administrations.up_to(up_to) if dose.drug in drugs)


def reference_series_of(cls: type[Series[Any]], records: Sequence[Any]) -> Series[Any]:
    ordered = tuple(sorted(records, key=lambda record: (record.at, str(getattr(record, "source", "")))))
    return cls(ordered, tuple(record.at for record in ordered))


def reference_latest(
    self: Series[Any], moment: datetime, within: timedelta | None = None, where: Callable[[Any], bool] | None = None
) -> Any:
    for record in reversed(self.up_to(moment)):
        if within is not None and moment - record.at > within:
            return None
        if where is None or where(record):
            return record
    return None


def reference_between(self: Series[Any], start: datetime, end: datetime) -> tuple[Any, ...]:
    lower = bisect_right(self._times, start - timedelta(microseconds=1))
    return self.items[lower : bisect_right(self._times, end)]


def reference_derived(self: Policy, _key: object, compute: Callable[[Policy], T]) -> T:
    return compute(self)


def reference_last_rise(ctx: Episode, now: datetime, stop_before: datetime | None = None) -> datetime | None:
    rise: datetime | None = None
    for moment in reversed(event_times(ctx, now)):
        grade = managed_grade_at(ctx, moment)
        if grade is None:
            continue
        if grade < 2:
            return rise
        rise = moment
        if stop_before is not None and moment < stop_before:
            return rise
    return rise


def reference_managed_at_least_2(ctx: Episode, moment: datetime) -> bool | None:
    managed = managed_grade_at(ctx, moment)
    return None if managed is None else managed >= 2


def reference_current_febrile_run(ctx: Episode, now: datetime) -> tuple[Temperature, Temperature] | None:
    """Each fever's run start computed over all fevers, as the episode once cached them."""
    gap = timedelta(hours=ctx.policy.management.febrile_run_gap_hours)
    starts: list[int] = []
    for index, fever in enumerate(ctx.fevers):
        continues = index > 0 and fever.at - ctx.fevers[index - 1].at < gap
        starts.append(starts[-1] if continues else index)
    last = bisect_right(ctx.fever_times, now) - 1
    return None if last < 0 else (ctx.fevers[starts[last]], ctx.fevers[last])


def reference_latest_blood_pressure(ctx: Episode, moment: datetime) -> BloodPressure | None:
    window = ctx.hours(ctx.policy.freshness.vitals_hours)
    same_time = ctx.timeline.blood_pressures.latest_all(moment, window, where=vitals._grades_pressure)
    if not same_time:
        return None
    at = same_time[0].at
    everything = ctx.timeline.blood_pressures.between(at, at)
    return BloodPressure(
        at,
        vitals._lowest(r.systolic_mmhg for r in everything),
        vitals._lowest(r.mean_mmhg for r in everything),
        ", ".join(sorted({r.source for r in everything})),
        vitals._lowest(r.diastolic_mmhg for r in everything),
    )


def reference_grade_at_dose(ctx: Episode, dose_at: datetime) -> int:
    window_start = dose_at - ctx.hours(24)
    moments = [dose_at, *reversed([m for m in event_times(ctx, dose_at) if m >= window_start and m != dose_at])]
    for moment in moments:
        grade = grading.grade_at(ctx, moment).comparable
        if grade is not None:
            return grade
    return 2


def reference_current_oxygen(ctx: Episode, moment: datetime) -> OxygenSupport | None:
    window = ctx.hours(ctx.policy.freshness.vitals_hours)
    oxygen = ctx.timeline.oxygen
    devices = oxygen.latest_all(moment, window, where=lambda record: record.device is not None)
    device = max(devices, key=vitals._support_rank) if devices else None
    since = device.at if device else moment - window
    flows = oxygen.latest_all(moment, moment - since, where=lambda record: record.flow_l_min is not None)
    fio2s = oxygen.latest_all(moment, moment - since, where=lambda record: record.fio2_pct is not None)
    flow = max(flows, key=lambda record: record.flow_l_min or 0) if flows else None
    fio2 = max(fio2s, key=lambda record: record.fio2_pct or 0) if fio2s else None
    return vitals.merged_oxygen(device, flow, fio2)  # the selection above is what the speedup replaced


def reference_coding_keys(concept: object) -> set[str]:
    keys = set()
    for coding in codings(concept):
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str) and isinstance(code, str):
            keys.add(f"{system.strip()}|{code.strip()}")
    return keys


def reference_reader_for(keys: set[str], codes: ObservationCodes) -> Any:
    table = (
        (codes.temperature, observations.read_temperature),
        (codes.bp_panel | codes.systolic | codes.mean_arterial | codes.diastolic, observations.read_blood_pressure),
        (codes.spo2, observations.read_spo2),
        (codes.flow | codes.fio2, observations._read_oxygen_numbers),
        (codes.weight, observations.read_weight),
        (codes.icans_grade | codes.ice_score, observations._read_icans),
        (frozenset(codes.lab_kind), observations.read_lab),
    )
    return next((reader for code_set, reader in table if keys & code_set), None)


def reference_read_device(
    obs: FhirResource, at: datetime, source: str, codes: ObservationCodes, out: observations.ObservationRecords
) -> bool:
    concepts = [obs.get("valueCodeableConcept")]
    concepts += [c.get("valueCodeableConcept") for c in obs.get("component") or [] if isinstance(c, dict)]
    for concept in concepts:
        for coding in codings(concept):
            device = codes.devices.get(f"{coding.get('system')}|{coding.get('code')}")
            if device is not None:
                name = coding.get("display") if isinstance(coding.get("display"), str) else device
                invasive = f"{coding.get('system')}|{coding.get('code')}" in codes.invasive
                out.oxygen.append(OxygenSupport(at, device, str(name), None, None, source, invasive))
                return True
    return False


@contextmanager
def reference_code() -> Iterator[None]:
    """The code before issue 13's speed-ups, in place of the fast paths, while the block runs."""
    patches: tuple[Any, ...] = (
        mock.patch.object(Timeline, "given", reference_given),
        mock.patch.object(Series, "latest", reference_latest),
        mock.patch.object(Series, "between", reference_between),
        mock.patch.object(Series, "of", classmethod(reference_series_of)),
        mock.patch.object(Policy, "derived", reference_derived),
        mock.patch.object(Episode, "grades", property(lambda _self: {})),  # a memo that never remembers
        mock.patch.object(escalation, "last_rise_to_grade_2", reference_last_rise),
        mock.patch.object(escalation, "managed_at_least_2", reference_managed_at_least_2),
        mock.patch.object(escalation, "grade_at_dose", reference_grade_at_dose),
        mock.patch.object(history, "current_febrile_run", reference_current_febrile_run),
        mock.patch.object(grading, "latest_blood_pressure", reference_latest_blood_pressure),
        mock.patch.object(vitals, "latest_blood_pressure", reference_latest_blood_pressure),
        mock.patch.object(grading, "current_oxygen", reference_current_oxygen),
        mock.patch.object(vitals, "current_oxygen", reference_current_oxygen),
        mock.patch.object(fields, "_instant", fields._instant.__wrapped__),
        mock.patch.object(fields, "coding_keys", reference_coding_keys),
        mock.patch.object(observations, "coding_keys", reference_coding_keys),
        mock.patch.object(observations, "_reader_for", reference_reader_for),
        mock.patch.object(observations, "_read_device", reference_read_device),
        mock.patch.object(PlainReaders, "read", return_value=False),  # every Observation on the general path
        *(mock.patch.object(cls, "__init__", vars(cls)["__init__"].__wrapped__) for cls in RECORDS),  # quick_init's
    )
    with ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def history_at(timeline: Timeline, now: datetime) -> tuple[object, ...]:
    """The grade history and what the escalation rule reads of it, at ``now``."""
    infusions = car_t_infusions(Episode(timeline, POLICY, None), now)
    ctx = Episode(timeline, POLICY, infusions[0].at if infusions else None)
    moments = event_times(ctx, now)
    managed = tuple(managed_grade_at(ctx, moment) for moment in reversed(moments))
    at_least_2 = tuple(escalation.managed_at_least_2(ctx, moment) for moment in reversed(moments))
    return grade_history(ctx, now), managed, at_least_2, escalation.last_rise_to_grade_2(ctx, now)


Outcome = tuple[Timeline, list[Assessment], list[tuple[object, ...]]]


def both_ways(
    resources: list[FhirResource], moments: list[datetime], orders_in_scope: bool = False
) -> tuple[Outcome, Outcome]:
    def run() -> Outcome:
        timeline = Translator.from_policy(POLICY).timeline(resources)
        assessments = [assess(timeline, POLICY, now, orders_in_scope=orders_in_scope) for now in moments]
        return timeline, assessments, [history_at(timeline, now) for now in moments]

    fast = run()
    with reference_code():
        reference = run()
    return fast, reference


def test_the_oracle_is_really_the_old_code() -> None:
    """The patches take effect: without them the memo remembers, with them it never does."""
    ctx = Episode(Timeline(), POLICY, None)
    assert ctx.grades is ctx.grades
    with reference_code():
        assert ctx.grades is not ctx.grades
        assert fields.parse_instant("2026-11-20T12:00:00Z") is not fields.parse_instant("2026-11-20T12:00:00Z")
        assert not PlainReaders(ObservationCodes.from_policy(POLICY)).read(b.temp(1, 38.4), ObservationRecords())
        assert len(RECORDS) >= 14
        assert not any(
            hasattr(vars(cls)["__init__"], "__wrapped__") for cls in RECORDS
        )  # the dataclass's own  # the dataclass's own


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda path: Path(path).stem)
def test_every_fixture_assesses_the_same_as_before(path: Path) -> None:
    bundle = read_fixture(path)
    anchor = anchor_of(bundle)
    moments = [anchor + timedelta(hours=h) for h in (-48, -24, -6, 0, 12, 30)]

    fast, reference = both_ways(list(resources_of(bundle)), moments, orders_in_scope="order" in path.stem)

    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    assert fast[2] == reference[2]
    assert_params_as_validation_gives_them(fast[1])


DRUGS = ["tocilizumab", "dexamethasone", "methylprednisolone", "acetaminophen", "anakinra"]
PRESSORS = ["norepinephrine", "vasopressin", "phenylephrine", "epinephrine", "dobutamine"]
DEVICES = ["room air", "nasal cannula", "blow-by", "high-flow nasal cannula", "non-rebreather", "BiPAP mask"]


BIRTH_DATES = ["1970-01-01", None, "2019-11-20", "2012-06-30"]  # adult, age unknown, child limits


@st.composite
def hourly_chart(draw: st.DrawFn) -> list[FhirResource]:
    """Days of vitals with gaps, ties at one instant, oxygen changes, doses, infusions starting, stopping and
    pausing, labs: what the grade history reads at each event."""
    hours = draw(st.integers(min_value=6, max_value=120))
    car_t_ago = draw(st.integers(max(1, hours - 40), hours + 600))  # some vitals before t0
    resources = [b.patient(draw(st.sampled_from(BIRTH_DATES))), b.car_t(hours_ago=car_t_ago), b.weight(70)]
    no_temperature = _blackout(draw, hours)  # fever unknown: no temperature in 24 h
    no_support = _blackout(draw, hours)  # blood pressure and oxygen unknown: not comparable
    for whole_hour in range(hours):
        hour = whole_hour + draw(st.sampled_from([0.0, 0.25, 0.5]))  # moments off the hour, some shared
        resources += _vitals(draw, hour, whole_hour not in no_temperature, whole_hour not in no_support)
    resources += _doses(draw, hours)
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["ferritin", "alt", "creatinine", "crp", "anc"]))
        value = draw(st.sampled_from([0.3, 1.2, 80.0, 400.0, 12000.0]))
        resources.append(b.lab(kind, value, draw(st.integers(0, hours))))
    return resources


def _blackout(draw: st.DrawFn, hours: int) -> range:
    start = draw(st.integers(0, hours))
    return range(start, start + draw(st.sampled_from([0, 6, 30, 60])))


def _vitals(draw: st.DrawFn, hour: float, temperature: bool, support: bool) -> list[FhirResource]:
    resources = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2])) if temperature else 0):  # two: a tie at one instant
        resources.append(b.temp(hour, draw(st.sampled_from([36.5, 37.9, 38.0, 38.6, 39.4]))))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2])) if support else 0):
        resources.append(b.bp(hour, draw(st.integers(min_value=60, max_value=130))))
    if support and not draw(st.integers(0, 5)):
        resources.append(b.device(hour, draw(st.sampled_from(DEVICES))))
    if support and not draw(st.integers(0, 6)):
        flow, fio2 = draw(st.sampled_from([(None, None), (2.0, None), (8.0, None), (None, 21.0), (None, 40.0)]))
        resources.append(b.spo2(hour, 92, flow_l_min=flow, fio2=fio2))
    return resources


def _doses(draw: st.DrawFn, hours: int) -> list[FhirResource]:
    resources = []
    for _ in range(draw(st.integers(0, 8))):
        dose = (draw(st.sampled_from([8.0, 560.0, 10.0, 650.0])), "mg")
        resources.append(b.given(draw(st.sampled_from(DRUGS)), draw(st.integers(0, hours)), dose=dose))
    for _ in range(draw(st.integers(0, 2))):  # the escalation rule's scan runs back to the first dose
        resources.append(b.given("tocilizumab", draw(st.integers(24, max(24, hours))), dose=(560.0, "mg")))
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(1, hours))
        status = draw(st.sampled_from(["running", "ended", "on-hold"]))
        drug = draw(st.sampled_from(PRESSORS))
        if status == "running":
            resources.append(b.given(drug, start, running=True))
        elif status == "ended":
            resources.append(b.given(drug, start, ended_hours_ago=draw(st.integers(0, start))))
        else:
            resources.append(b.given(drug, start, running=True) | {"status": "on-hold"})
    return resources


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@for_all(hourly_chart(), st.lists(st.integers(min_value=-30 * 60, max_value=40 * 60), min_size=1, max_size=3))
def test_generated_charts_assess_the_same_as_before(resources: list[FhirResource], offsets: list[int]) -> None:
    fast, reference = both_ways(resources, [b.NOW + timedelta(minutes=m) for m in offsets])

    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    assert fast[2] == reference[2]
    assert_params_as_validation_gives_them(fast[1])


PARAMS = TypeAdapter(dict[str, Param])


def params_in(value: object) -> Iterator[dict[str, Param]]:
    """Every ``params`` of an assessment or an order check, in nested notes too."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name == "params":
                yield getattr(value, name)
            else:
                yield from params_in(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from params_in(item)


def assert_params_as_validation_gives_them(results: Sequence[object]) -> int:
    """The engine's params are kept unvalidated (``assessment.Params``): validation must give back the same
    values of the same types (``1``, ``1.0`` and ``True`` told apart, a tuple from a list). Returns how many
    were checked."""
    found = [params for result in results for params in params_in(result)]
    for params in found:
        assert typed(PARAMS.validate_python(params)) == typed(params)
    return len(found)


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return [(name, typed(item)) for name, item in value.items()]
    if isinstance(value, tuple | list):
        return (type(value), [typed(item) for item in value])
    return (type(value), value)


def test_order_checks_keep_params_as_validation_gives_them() -> None:
    charts = [(case.chart, case.drafts) for case in CASES if case.drafts]
    for path in fixture_paths(FIXTURES_DIR):
        drafts_path = FIXTURES_DIR / "drafts" / path.name
        if drafts_path.exists():
            anchored = [list(resources_of(shifted(read_fixture(p), b.NOW))) for p in (path, drafts_path)]
            charts.append((anchored[0], anchored[1]))
    checked = 0
    for chart, drafts in charts:
        timeline = Translator.from_policy(POLICY).timeline(chart, drafts)
        assessment, checks = check_drafts(timeline, POLICY, b.NOW, timeline.draft_orders)
        assert checks
        checked += assert_params_as_validation_gives_them([assessment, *checks])
    assert len(charts) >= 3
    assert checked >= 20


class Shout(str):
    """A str subclass (as an enum member is)."""


@pytest.mark.parametrize("value", [True, ["a"], Shout("a")])
def test_the_params_check_tells_a_value_validation_would_change(value: Any) -> None:
    with pytest.raises(AssertionError):
        assert_params_as_validation_gives_them([note("C0", v=value)])
