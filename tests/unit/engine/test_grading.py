"""ASTCT grading (C1-C4, G-rules): one row per clinical case, named by the rule it proves.

Unless a row says otherwise the patient is an adult 4 days after tisagenlecleucel, with up-to-date
normal vital signs on room air (``monitored``); each row adds or overrides what the case is about.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.fhir_builders import (
    NOW,
    bp,
    car_t,
    chart,
    device,
    fio2,
    flow,
    given,
    lab,
    mean_pressure,
    patient,
    spo2,
    temp,
    weight,
)
from tests.wording_support import evidence_text

Resource = dict[str, Any]


def adult(*items: Resource, birth_date: str | None = "1970-01-01") -> list[Resource]:
    return [patient(birth_date), car_t(hours_ago=96), weight(70), *items]


def febrile(*items: Resource) -> list[Resource]:
    """Febrile adult with a normal blood pressure on room air unless the row says otherwise."""
    return adult(temp(1, 38.6), *items)


def normal_vitals() -> list[Resource]:
    return [bp(1, 120, 75), spo2(1, 98), device(1, "room air")]


# (case, chart, expected grade)
GRADE_CASES = [
    # C1 fever
    ("C1 37.9 Cel is not fever", adult(temp(1, 37.9), *normal_vitals()), 0),
    ("C1 38.0 Cel is fever", adult(temp(1, 38.0), *normal_vitals()), 1),
    ("C1 100.4 degF is exactly 38.0 Cel", adult(temp(1, 100.4, "[degF]"), *normal_vitals()), 1),
    ("C1 100.3 degF is below 38.0 Cel", adult(temp(1, 100.3, "[degF]"), *normal_vitals()), 0),
    ("C1 any reading in 24 h counts, not only the latest", adult(temp(20, 38.3), temp(1, 36.9), *normal_vitals()), 1),
    ("C1 a fever 25 h ago does not count", adult(temp(25, 38.5), temp(1, 36.9), *normal_vitals()), 0),
    # C2 fever waiver
    (
        "C2 acetaminophen after a fever waives fever: hypotension grades",
        adult(temp(30, 38.5), temp(1, 36.9), given("acetaminophen", 20), bp(1, 85), device(1, "room air")),
        2,
    ),
    (
        "C2 waiver ends when the acetaminophen dose is older than 24 h",
        adult(temp(40, 38.5), temp(1, 36.9), given("acetaminophen", 25), bp(1, 85), device(1, "room air")),
        0,
    ),
    (
        "C2 tocilizumab waives fever for 14 days",
        [
            patient(),
            car_t(hours_ago=15 * 24),
            temp(10 * 24, 39),
            given("tocilizumab", 9 * 24),
            temp(1, 37),
            bp(1, 85),
            device(1, "room air"),
        ],
        2,
    ),
    (
        "C2 corticosteroid waiver lasts 72 h, not 73",
        adult(temp(80, 38.5), given("dexamethasone", 73), temp(1, 37), bp(1, 85), device(1, "room air")),
        0,
    ),
    (
        "C2 a dose given before the fever does not waive it",
        adult(given("dexamethasone", 32), temp(30, 38.5), temp(1, 37), bp(1, 85), device(1, "room air")),
        0,
    ),
    (
        "C2 corticosteroid given exactly 72 h ago still waives",
        adult(temp(80, 38.5), given("dexamethasone", 72), temp(1, 37), bp(1, 85), device(1, "room air")),
        2,
    ),
    (
        "C2 no fever since t0 means no waiver",
        adult(given("acetaminophen", 2), temp(1, 37), bp(1, 85), device(1, "room air")),
        0,
    ),
    # C3 freshness
    ("C3 no temperature, BP or oxygen data in 24 h: grade null, never 0", adult(temp(30, 38.5), bp(30, 80)), None),
    ("C3 SpO2 alone does not document oxygen support: lower bound", febrile(bp(1, 120), spo2(1, 90)), 1),
    ("C3 BP older than 24 h is unknown", febrile(bp(25, 85), device(1, "room air")), 1),
    (
        "C3 an active vasopressor sets the class without any BP",
        febrile(given("norepinephrine", 3, running=True), device(1, "room air")),
        3,
    ),
    ("C3 unknown fever: the grade is a lower bound", adult(bp(1, 85), device(1, "room air")), 0),
    # G-HYPOTENSION
    ("G-HYPOTENSION adult systolic 89 mmHg", febrile(bp(1, 89), device(1, "room air")), 2),
    ("G-HYPOTENSION adult systolic 90 mmHg is not hypotension", febrile(bp(1, 90), device(1, "room air")), 1),
    ("G-HYPOTENSION adult MAP 64 mmHg", febrile(bp(1, 100), mean_pressure(1, 64), device(1, "room air")), 2),
    (
        "G-HYPOTENSION adult MAP 65 mmHg is not hypotension",
        febrile(bp(1, 100), mean_pressure(1, 65), device(1, "room air")),
        1,
    ),
    ("G-HYPOTENSION latest reading decides", febrile(bp(5, 80), bp(1, 110), device(1, "room air")), 1),
    (
        "G-HYPOTENSION child of 5: systolic below 80 mmHg",
        adult(temp(1, 38.6), bp(1, 79), device(1, "room air"), birth_date="2021-06-01"),
        2,
    ),
    (
        "G-HYPOTENSION child of 5: systolic 80 mmHg is not hypotension",
        adult(temp(1, 38.6), bp(1, 80), device(1, "room air"), birth_date="2021-06-01"),
        1,
    ),
    (
        "G-HYPOTENSION child: MAP is not used",
        adult(temp(1, 38.6), bp(1, 95), mean_pressure(1, 50), device(1, "room air"), birth_date="2021-06-01"),
        1,
    ),
    (
        "G-HYPOTENSION infant under 1 year: systolic below 70 mmHg",
        adult(temp(1, 38.6), bp(1, 69), device(1, "room air"), birth_date="2026-05-01"),
        2,
    ),
    (
        "G-HYPOTENSION adolescent of 15: systolic below 90 mmHg",
        adult(temp(1, 38.6), bp(1, 89), device(1, "room air"), birth_date="2011-01-01"),
        2,
    ),
    (
        "G-HYPOTENSION age unknown is graded as an adult",
        adult(temp(1, 38.6), bp(1, 89), device(1, "room air"), birth_date=None),
        2,
    ),
    # G-VASOPRESSOR
    ("G-VASOPRESSOR vasopressin alone", febrile(given("vasopressin", 3, running=True), device(1, "room air")), 3),
    (
        "G-VASOPRESSOR norepinephrine with vasopressin is one agent",
        febrile(given("norepinephrine", 3, running=True), given("vasopressin", 2, running=True), device(1, "room air")),
        3,
    ),
    (
        "G-VASOPRESSOR two non-vasopressin agents",
        febrile(
            given("norepinephrine", 3, running=True), given("phenylephrine", 2, running=True), device(1, "room air")
        ),
        4,
    ),
    (
        "G-VASOPRESSOR dobutamine is an inotrope, not counted",
        febrile(given("dobutamine", 3, running=True), bp(1, 110), device(1, "room air")),
        1,
    ),
    (
        "G-VASOPRESSOR a push dose is not an infusion",
        febrile(given("phenylephrine", 1), bp(1, 110), device(1, "room air")),
        1,
    ),
    (
        "G-VASOPRESSOR an infusion ended 30 min ago is still active",
        febrile(given("norepinephrine", 10, ended_hours_ago=0.5), bp(1, 110), device(1, "room air")),
        3,
    ),
    (
        "G-VASOPRESSOR an infusion ended 2 h ago is not active",
        febrile(given("norepinephrine", 10, ended_hours_ago=2), bp(1, 110), device(1, "room air")),
        1,
    ),
    # G-HYPOXIA
    ("G-HYPOXIA room air", febrile(bp(1, 120), device(1, "room air")), 1),
    ("G-HYPOXIA blow-by", febrile(bp(1, 120), device(1, "blow-by")), 2),
    ("G-HYPOXIA nasal cannula 6.0 L/min is low flow", febrile(bp(1, 120), device(2, "nasal cannula"), flow(1, 6.0)), 2),
    (
        "G-HYPOXIA nasal cannula 6.1 L/min is high flow",
        febrile(bp(1, 120), device(2, "nasal cannula"), flow(1, 6.1)),
        3,
    ),
    ("G-HYPOXIA nasal cannula without a documented flow", febrile(bp(1, 120), device(1, "nasal cannula")), 2),
    ("G-HYPOXIA flow alone 6 L/min", febrile(bp(1, 120), spo2(1, 94, flow_l_min=6)), 2),
    ("G-HYPOXIA flow alone 6100 mL/min", febrile(bp(1, 120), flow(1, 6100, "mL/min")), 3),
    ("G-HYPOXIA FiO2 21 % alone is room air", febrile(bp(1, 120), fio2(1, 21)), 1),
    ("G-HYPOXIA FiO2 alone above 21 % is at least class 2", febrile(bp(1, 120), fio2(1, 30)), 2),
    ("G-HYPOXIA FiO2 as a fraction 0.40", febrile(bp(1, 120), fio2(1, 0.4, "1")), 2),
    (
        "G-HYPOXIA high-flow nasal cannula at any flow",
        febrile(bp(1, 120), device(1, "high-flow nasal cannula"), flow(1, 2)),
        3,
    ),
    ("G-HYPOXIA simple mask", febrile(bp(1, 120), device(1, "simple mask")), 3),
    ("G-HYPOXIA non-rebreather", febrile(bp(1, 120), device(1, "non-rebreather")), 3),
    ("G-HYPOXIA Venturi mask", febrile(bp(1, 120), device(1, "Venturi mask")), 3),
    ("G-HYPOXIA BiPAP", febrile(bp(1, 120), device(1, "BiPAP mask"), fio2(1, 40)), 4),
    ("G-HYPOXIA mechanical ventilation", febrile(bp(1, 120), device(1, "mechanical ventilator")), 4),
    (
        "G-HYPOXIA CPAP at FiO2 21 % is positive pressure without oxygen",
        febrile(bp(1, 120), device(1, "CPAP unit"), fio2(1, 21)),
        1,
    ),
    (
        "G-HYPOXIA the latest device decides",
        febrile(bp(1, 120), device(6, "non-rebreather"), device(1, "nasal cannula"), flow(1, 2)),
        2,
    ),
    ("G-HYPOXIA SpO2 never sets the class", febrile(bp(1, 120), device(1, "room air"), spo2(1, 84)), 1),
    # G-GRADE
    (
        "G-GRADE fever with hypotension and high-flow oxygen takes the maximum",
        febrile(bp(1, 85), device(1, "non-rebreather")),
        3,
    ),
    ("G-GRADE support without fever is grade 0", adult(temp(1, 37.2), bp(1, 120), device(1, "non-rebreather")), 0),
    # G-ORGAN
    (
        "G-ORGAN organ toxicity never changes the grade",
        febrile(bp(1, 120), device(1, "room air"), lab("alt", 900), lab("creatinine", 6), lab("bilirubin", 8)),
        1,
    ),
]


@pytest.mark.parametrize(("case", "resources", "expected"), GRADE_CASES, ids=[row[0] for row in GRADE_CASES])
def test_grade(case: str, resources: list[Resource], expected: int | None) -> None:
    assessment = chart(resources)

    assert assessment.in_scope
    assert assessment.grade == expected, case


# (case, chart, flags that must be set, flags that must not)
FLAG_CASES = [
    ("C3 insufficient data sets partial-data", adult(temp(30, 38.5)), {"partial-data"}, set()),
    ("C3 all classes known: no partial-data", febrile(bp(1, 120), device(1, "room air")), set(), {"partial-data"}),
    ("C3 SpO2 only: hypoxia unknown sets partial-data", febrile(bp(1, 120), spo2(1, 95)), {"partial-data"}, set()),
    (
        "C4 temperature 5 h old is overdue",
        adult(temp(5, 37), bp(1, 120), spo2(1, 98), device(1, "room air")),
        {"vitals-overdue"},
        set(),
    ),
    (
        "C4 exactly 4 h is not overdue",
        adult(temp(4, 37), bp(4, 120), spo2(4, 98), device(4, "room air")),
        set(),
        {"vitals-overdue"},
    ),
    (
        "C4 SpO2 never measured is overdue",
        adult(temp(1, 37), bp(1, 120), device(1, "room air")),
        {"vitals-overdue"},
        set(),
    ),
    ("G-HYPOTENSION age unknown is flagged", adult(temp(1, 38.6), bp(1, 120), birth_date=None), {"age-unknown"}, set()),
    (
        "G-HYPOXIA CPAP at FiO2 21 % is flagged",
        febrile(bp(1, 120), device(1, "CPAP unit"), fio2(1, 21)),
        {"positive-pressure-without-oxygen"},
        set(),
    ),
    (
        "G-GRADE oxygen without fever: evaluate other causes",
        adult(temp(1, 37), bp(1, 120), device(1, "non-rebreather")),
        {"support-without-fever"},
        set(),
    ),
    (
        "G-GRADE normal vitals without fever: no support flag",
        adult(temp(1, 37), *normal_vitals()),
        set(),
        {"support-without-fever"},
    ),
]


@pytest.mark.parametrize(("case", "resources", "present", "absent"), FLAG_CASES, ids=[row[0] for row in FLAG_CASES])
def test_flags(case: str, resources: list[Resource], present: set[str], absent: set[str]) -> None:
    flags = set(chart(resources).flags)

    assert present <= flags, case
    assert not absent & flags, case


def test_C3_null_grade_names_every_unknown_class() -> None:
    assessment = chart(adult(temp(30, 38.5)))

    assert assessment.grade is None
    assert set(assessment.unknown_classes) == {"fever", "hypotension", "hypoxia"}


def test_G_GRADE_evidence_names_values_and_times() -> None:
    assessment = chart(febrile(bp(1, 85), device(2, "nasal cannula"), flow(1, 4)))

    texts = {item.rule: evidence_text(item) for item in assessment.evidence}
    assert texts["C1"] == "Highest temperature in 24 h: 38.6 °C (11:00 UTC, 1 h ago)"
    assert texts["G-HYPOTENSION"] == (
        "Blood pressure (11:00 UTC, 1 h ago): systolic 85 mmHg (hypotension if below 90), "
        "MAP 68.33 mmHg computed from systolic and diastolic (hypotension if below 65)"
    )
    assert texts["G-HYPOXIA"] == "Oxygen support (11:00 UTC, 1 h ago): nasal cannula, 4 L/min"
    assert all(item.at is not None for item in assessment.evidence)


def test_G_VASOPRESSOR_names_the_running_agents() -> None:
    assessment = chart(febrile(given("norepinephrine", 3, running=True), given("vasopressin", 2, running=True)))

    lines = [(evidence_text(item), item.at) for item in assessment.evidence if item.rule == "G-VASOPRESSOR"]
    assert lines == [
        ("Norepinephrine infusion running since 09:00 UTC, 3 h ago", NOW - timedelta(hours=3)),
        ("Vasopressin infusion running since 10:00 UTC, 2 h ago", NOW - timedelta(hours=2)),
    ]
