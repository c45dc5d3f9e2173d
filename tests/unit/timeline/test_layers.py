"""The chart's data layers against the engine, fixture by fixture: grades, thresholds, points, dose markers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from service.crs.engine import assess
from service.crs.grading import Context, grade_at
from service.crs.policy import Policy
from service.crs.timeline import Timeline
from service.fhir.bundles import bundle_resources
from service.fhir.translate import Translator
from service.policy_file import load_policy
from service.settings import BUNDLED_POLICY
from service.timeline.layers import build_layers, recent

FIXTURES = Path(__file__).resolve().parents[3] / "fhir_fixtures"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INDEX = {row["fixture"]: row for row in json.loads((FIXTURES / "index.json").read_text())}


@cache
def policy() -> Policy:
    return load_policy(BUNDLED_POLICY)


def chart(name: str) -> Timeline:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return Translator.from_policy(policy()).timeline(bundle_resources(document))


def grade_text(grade: int | None) -> str:
    return "unknown" if grade is None else str(grade)


@pytest.mark.parametrize("name", sorted(INDEX), ids=lambda name: name.removesuffix(".json"))
def test_the_grade_band_is_the_engines_grade_history_and_ends_on_the_card(name: str) -> None:
    timeline = chart(name)
    layers = build_layers(timeline, policy(), NOW)
    infusions = timeline.given(policy().drugs_with_role("car-t"), NOW)
    ctx = Context(timeline, policy(), infusions[0].at if infusions else None)

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
    layers = build_layers(timeline, policy(), NOW)

    readings = timeline.temperatures.between(layers.start, NOW)
    assert [(r.at, r.value) for r in layers.temperatures] == [(r.at, r.temp_c) for r in readings]
    systolic = [(r.at, r.systolic_mmhg) for r in timeline.blood_pressures.between(layers.start, NOW) if r.systolic_mmhg]
    assert [(r.at, r.value) for r in layers.systolic] == systolic
    assert layers.fever_threshold_c == policy().fever.threshold_c


def test_the_start_is_t0_or_seven_days_without_an_infusion() -> None:
    with_t0 = build_layers(chart("grade3-norepinephrine.json"), policy(), NOW)
    without = build_layers(chart("no-car-t.json"), policy(), NOW)

    assert with_t0.start == with_t0.t0
    assert with_t0.product == "tisagenlecleucel (Kymriah)"
    assert without.t0 is None
    assert without.start == NOW - timedelta(days=7)


def test_hypotension_thresholds_are_the_engines_for_the_patients_age() -> None:
    adult = build_layers(chart("grade2-hypotension.json"), policy(), NOW)
    child = build_layers(chart("pediatric-22kg.json"), policy(), NOW)

    assert (adult.sbp_below, adult.map_below) == (90, 65)
    assert (child.sbp_below, child.map_below) == (70 + 2 * 7, None)  # 70 + 2 x age, no MAP rule for children


def test_tocilizumab_markers_and_limits_are_the_engines() -> None:
    timeline = chart("toci-limit-3-in-24h.json")
    layers = build_layers(timeline, policy(), NOW)
    withheld = next(w for w in assess(timeline, policy(), NOW).withheld if w.drug == "tocilizumab")

    doses = [dose for dose in layers.doses if dose.role == "tocilizumab"]
    assert len(doses) == 3
    assert all(dose.amount == "560 mg" and dose.drug == "tocilizumab" for dose in doses)
    assert (layers.tocilizumab.doses_last_24h, layers.tocilizumab.max_per_24h) == (3, 3)
    assert layers.tocilizumab.next_allowed_at == withheld.next_allowed_at
    assert layers.tocilizumab.next_allowed_at == doses[0].at + timedelta(hours=24)


def test_the_fourth_dose_limit_blocks_without_a_next_time() -> None:
    layers = build_layers(chart("toci-limit-4-total.json"), policy(), NOW)

    assert layers.tocilizumab.doses_since_t0 == 4
    assert layers.tocilizumab.next_allowed_at is None
    assert layers.tocilizumab.blocked_reason is not None
    assert "4 doses" in layers.tocilizumab.blocked_reason


def test_steroid_markers_are_labelled_with_their_dose() -> None:
    layers = build_layers(chart("grade4-bipap-methylpred-30h.json"), policy(), NOW)

    steroids = [dose for dose in layers.doses if dose.role == "corticosteroid"]
    assert [dose.label for dose in steroids] == ["methylprednisolone 500 mg"] * 3


def test_vasopressor_bars_name_the_agents_and_run_to_now() -> None:
    layers = build_layers(chart("grade4-two-vasopressors.json"), policy(), NOW)

    assert sorted(bar.drug for bar in layers.vasopressors) == ["norepinephrine", "phenylephrine"]
    assert all(bar.running and bar.end == NOW for bar in layers.vasopressors)


def test_oxygen_steps_are_the_engines_hypoxia_classes() -> None:
    high_flow = build_layers(chart("grade3-high-flow.json"), policy(), NOW)
    bipap = build_layers(chart("grade4-bipap-methylpred-30h.json"), policy(), NOW)

    assert high_flow.oxygen[-1].support_class == 3
    assert "40 L/min" in high_flow.oxygen[-1].label
    assert {step.support_class for step in bipap.oxygen} == {4}  # an FiO2 row alone keeps the BiPAP class


def test_icans_grades_are_charted() -> None:
    layers = build_layers(chart("icans-with-grade1-crs.json"), policy(), NOW)

    assert [reading.value for reading in layers.icans][-1] == 2


def test_hlh_raises_the_managed_grade_in_the_band_only_where_the_engine_does() -> None:
    layers = build_layers(chart("hlh-suspicion.json"), policy(), NOW)

    assert (layers.grades[-1].grade, layers.grades[-1].managed_grade) == (1, 3)


def test_the_detail_view_is_the_last_24_hours_of_the_same_layers() -> None:
    layers = build_layers(chart("grade3-norepinephrine.json"), policy(), NOW)
    cut = NOW - timedelta(hours=24)

    detail = recent(layers, 24)

    assert detail.start == cut
    assert detail.temperatures == tuple(r for r in layers.temperatures if r.at >= cut)
    assert detail.grades[-1] == layers.grades[-1]
    assert all(step.start >= cut for step in detail.grades)
    assert detail.vasopressors[0].drug == "norepinephrine"
    assert recent(layers, 24 * 30) is layers  # nothing to cut
