"""Issue 13: the speed-ups change no clinical result.

The oracle is the straightforward code the speed-ups replaced, kept here: the grade re-computed at every
moment asked (no memo), the escalation rule's scan reading the full managed grade at each event, the oxygen
support found by filters over all oxygen records, the doses of a drug set filtered from all administrations
at each question, the policy's role sets and waiver windows re-derived at each question, ``Series.latest``
over a copy of the past, and in translation the per-Observation set unions, an uncached timestamp parser
and the old coding readers.
Every fixture in ``fhir_fixtures/`` and a generated sample of multi-day charts are translated and assessed
both ways; the timelines and the full assessments must be equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import given as for_all
from hypothesis import strategies as st

from service.crs import grading, history, vitals
from service.crs.assessment import Assessment
from service.crs.engine import assess
from service.crs.episode import Episode
from service.crs.history import car_t_infusions, event_times, grade_history, managed_grade_at
from service.crs.policy import Policy
from service.crs.timeline import Administration, OxygenSupport, Series, Timeline
from service.fhir import fields, observations
from service.fhir.fields import FhirResource, codings
from service.fhir.observations import ObservationCodes
from service.fhir.translate import Translator
from service.fixtures import anchor_of, fixture_paths, read_fixture, resources_of
from tests import fhir_builders as b

T = TypeVar("T")
POLICY = b.POLICY


def reference_given(self: Timeline, drugs: frozenset[str], up_to: datetime) -> tuple[Administration, ...]:
    return tuple(dose for dose in self.administrations.up_to(up_to) if dose.drug in drugs)


def reference_latest(
    self: Series[Any], moment: datetime, within: timedelta | None = None, where: Callable[[Any], bool] | None = None
) -> Any:
    for record in reversed(self.up_to(moment)):
        if within is not None and moment - record.at > within:
            return None
        if where is None or where(record):
            return record
    return None


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
        (frozenset(codes.lab_kind), observations._read_lab),
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
    patches = (
        mock.patch.object(Timeline, "given", reference_given),
        mock.patch.object(Series, "latest", reference_latest),
        mock.patch.object(Policy, "derived", reference_derived),
        mock.patch.object(Episode, "grades", property(lambda _self: {})),  # a memo that never remembers
        mock.patch.object(history, "last_rise_to_grade_2", reference_last_rise),
        mock.patch.object(grading, "current_oxygen", reference_current_oxygen),
        mock.patch.object(vitals, "current_oxygen", reference_current_oxygen),
        mock.patch.object(fields, "_instant", fields._instant.__wrapped__),
        mock.patch.object(fields, "coding_keys", reference_coding_keys),
        mock.patch.object(observations, "coding_keys", reference_coding_keys),
        mock.patch.object(observations, "_reader_for", reference_reader_for),
        mock.patch.object(observations, "_read_device", reference_read_device),
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
    return grade_history(ctx, now), managed, history.last_rise_to_grade_2(ctx, now)


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


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda path: Path(path).stem)
def test_every_fixture_assesses_the_same_as_before(path: Path) -> None:
    bundle = read_fixture(path)
    anchor = anchor_of(bundle)
    moments = [anchor + timedelta(hours=h) for h in (-48, -24, -6, 0, 12, 30)]

    fast, reference = both_ways(list(resources_of(bundle)), moments, orders_in_scope="order" in path.stem)

    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    assert fast[2] == reference[2]


DRUGS = ["tocilizumab", "dexamethasone", "methylprednisolone", "acetaminophen", "anakinra"]
PRESSORS = ["norepinephrine", "vasopressin", "phenylephrine", "epinephrine", "dobutamine"]
DEVICES = ["room air", "nasal cannula", "high-flow nasal cannula", "non-rebreather", "BiPAP mask"]


@st.composite
def hourly_chart(draw: st.DrawFn) -> list[FhirResource]:
    """Days of vitals with gaps, oxygen changes, doses, infusions starting, stopping and pausing, labs."""
    hours = draw(st.integers(min_value=6, max_value=120))
    resources = [b.patient(), b.car_t(hours_ago=hours + draw(st.integers(0, 600))), b.weight(70)]
    for whole_hour in range(hours):
        hour = whole_hour + draw(st.sampled_from([0.0, 0.25, 0.5]))  # moments off the hour, some shared
        if draw(st.integers(0, 4)):
            resources.append(b.temp(hour, draw(st.sampled_from([36.5, 37.9, 38.0, 38.6, 39.4]))))
        if draw(st.integers(0, 3)):
            resources.append(b.bp(hour, draw(st.integers(min_value=60, max_value=130))))
        if not draw(st.integers(0, 5)):
            resources.append(b.device(hour, draw(st.sampled_from(DEVICES))))
        if not draw(st.integers(0, 6)):
            resources.append(b.spo2(hour, 92, flow_l_min=draw(st.sampled_from([None, 2.0, 8.0]))))
    for _ in range(draw(st.integers(0, 8))):
        dose = (draw(st.sampled_from([8.0, 560.0, 10.0, 650.0])), "mg")
        resources.append(b.given(draw(st.sampled_from(DRUGS)), draw(st.integers(0, hours)), dose=dose))
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
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["ferritin", "alt", "creatinine", "crp", "anc"]))
        value = draw(st.sampled_from([0.3, 1.2, 80.0, 400.0, 12000.0]))
        resources.append(b.lab(kind, value, draw(st.integers(0, hours))))
    return resources


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@for_all(hourly_chart(), st.lists(st.integers(min_value=-30 * 60, max_value=40 * 60), min_size=1, max_size=3))
def test_generated_charts_assess_the_same_as_before(resources: list[FhirResource], offsets: list[int]) -> None:
    fast, reference = both_ways(resources, [b.NOW + timedelta(minutes=m) for m in offsets])

    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    assert fast[2] == reference[2]
