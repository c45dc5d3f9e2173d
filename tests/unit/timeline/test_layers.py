"""The chart's data layers against the engine, fixture by fixture: grades, thresholds, points, dose markers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.crs.engine import assess
from service.crs.episode import Episode
from service.crs.grading import grade_at
from service.timeline.layers import recent
from tests.unit.timeline.timeline_support import INDEX, NOW, chart, layers_of, policy


def grade_text(grade: int | None) -> str:
    return "unknown" if grade is None else str(grade)


@pytest.mark.parametrize("name", sorted(INDEX), ids=lambda name: name.removesuffix(".json"))
def test_the_grade_band_is_the_engines_grade_history_and_ends_on_the_card(name: str) -> None:
    timeline = chart(name)
    layers = layers_of(timeline)
    infusions = timeline.given(policy().drugs_with_role("car-t"), NOW)
    ctx = Episode(timeline, policy(), infusions[0].at if infusions else None)

    for step in layers.grades[:-1]:
        assert step.grade == grade_at(ctx, step.start).grade
        assessed = assess(timeline, policy(), step.start)
        assert step.managed_grade == (assessed.managed_grade if assessed.in_scope else None)
    for earlier, later in zip(layers.grades, layers.grades[1:], strict=False):
        assert earlier.end == later.start  # contiguous, in time order
    current, assessment = layers.grades[-1], assess(timeline, policy(), NOW)
    assert (current.start, current.grade) == (NOW, assessment.grade)
    if assessment.in_scope:
        assert current.managed_grade == assessment.managed_grade
        assert grade_text(current.grade) == INDEX[name]["grade"]
        assert grade_text(current.managed_grade) == INDEX[name]["managed_grade"]


@pytest.mark.parametrize("name", sorted(INDEX), ids=lambda name: name.removesuffix(".json"))
def test_points_are_the_charts_readings_since_the_start(name: str) -> None:
    timeline = chart(name)
    layers = layers_of(timeline)

    readings = timeline.temperatures.between(layers.start, NOW)
    assert [(r.at, r.value) for r in layers.temperatures] == [(r.at, r.temp_c) for r in readings]
    systolic = [(r.at, r.systolic_mmhg) for r in timeline.blood_pressures.between(layers.start, NOW) if r.systolic_mmhg]
    assert [(r.at, r.value) for r in layers.systolic] == systolic
    assert layers.fever_threshold_c == policy().fever.threshold_c


def test_the_start_is_t0_or_seven_days_without_an_infusion() -> None:
    with_t0 = layers_of(chart("grade3-norepinephrine.json"))
    without = layers_of(chart("no-car-t.json"))

    assert with_t0.start == with_t0.t0
    assert with_t0.product == "tisagenlecleucel (Kymriah)"
    assert without.t0 is None
    assert without.start == NOW - timedelta(days=7)


def test_hypotension_thresholds_are_the_engines_for_the_patients_age() -> None:
    adult = layers_of(chart("grade2-hypotension.json"))
    child = layers_of(chart("pediatric-22kg.json"))

    assert (adult.sbp_below, adult.map_below) == (90, 65)
    assert (child.sbp_below, child.map_below) == (70 + 2 * 7, None)  # 70 + 2 x age, no MAP rule for children


def test_tocilizumab_markers_and_limits_are_the_engines() -> None:
    timeline = chart("toci-limit-3-in-24h.json")
    layers = layers_of(timeline)
    withheld = next(w for w in assess(timeline, policy(), NOW).withheld if w.drug == "tocilizumab")

    doses = [dose for dose in layers.doses if dose.role == "tocilizumab"]
    assert len(doses) == 3
    assert all(dose.amount == "560 mg" and dose.drug == "tocilizumab" for dose in doses)
    assert (layers.tocilizumab.doses_last_24h, layers.tocilizumab.max_per_24h) == (3, 3)
    assert layers.tocilizumab.next_allowed_at == withheld.next_allowed_at
    assert layers.tocilizumab.next_allowed_at == doses[0].at + timedelta(hours=24)


def test_the_fourth_dose_limit_blocks_without_a_next_time() -> None:
    layers = layers_of(chart("toci-limit-4-total.json"))

    assert layers.tocilizumab.doses_since_t0 == 4
    assert layers.tocilizumab.next_allowed_at is None
    assert layers.tocilizumab.blocked_reason is not None
    assert "4 doses" in layers.tocilizumab.blocked_reason


def test_steroid_markers_are_labelled_with_their_dose() -> None:
    layers = layers_of(chart("grade4-bipap-methylpred-30h.json"))

    steroids = [dose for dose in layers.doses if dose.role == "corticosteroid"]
    assert [dose.label for dose in steroids] == ["methylprednisolone 500 mg"] * 3


def test_vasopressor_bars_name_the_agents_and_run_to_now() -> None:
    layers = layers_of(chart("grade4-two-vasopressors.json"))

    assert sorted(bar.drug for bar in layers.vasopressors) == ["norepinephrine", "phenylephrine"]
    assert all(bar.running and bar.end == NOW for bar in layers.vasopressors)


def test_oxygen_steps_are_the_engines_hypoxia_classes() -> None:
    high_flow = layers_of(chart("grade3-high-flow.json"))
    bipap = layers_of(chart("grade4-bipap-methylpred-30h.json"))

    assert high_flow.oxygen[-1].support_class == 3
    assert "40 L/min" in high_flow.oxygen[-1].label
    assert {step.support_class for step in bipap.oxygen} == {4}  # an FiO2 row alone keeps the BiPAP class


def test_icans_grades_are_charted() -> None:
    layers = layers_of(chart("icans-with-grade1-crs.json"))

    assert [reading.value for reading in layers.icans][-1] == 2


def test_hlh_raises_the_managed_grade_in_the_band_only_where_the_engine_does() -> None:
    layers = layers_of(chart("hlh-suspicion.json"))

    assert (layers.grades[-1].grade, layers.grades[-1].managed_grade) == (1, 3)


def test_the_detail_view_is_the_last_24_hours_of_the_same_layers() -> None:
    layers = layers_of(chart("grade3-norepinephrine.json"))
    cut = NOW - timedelta(hours=24)

    detail = recent(layers, 24)

    assert detail.start == cut
    assert detail.temperatures == tuple(r for r in layers.temperatures if r.at >= cut)
    assert detail.grades[-1] == layers.grades[-1]
    assert all(step.start >= cut for step in detail.grades)
    assert detail.vasopressors[0].drug == "norepinephrine"
    assert recent(layers, 24 * 30) is layers  # nothing to cut
