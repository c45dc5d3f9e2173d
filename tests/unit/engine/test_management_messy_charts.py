"""Management on messy charts (clinical rules revision 3): M-G1 at every grade, M-G2-ESCALATE from the managed
grade, M-G4 taper statement and 1000 mg, M-ICANS-ALONE, M-ACTIVE-ORDER intensity, M-TOCI-LIMITS' next time.

Each test is one situation a clinical reviewer found, named by the rule it proves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from tests.fhir_builders import (
    NOW,
    bp,
    car_t,
    chart,
    device,
    given,
    icans,
    order,
    patient,
    spo2,
    temp,
    weight,
)
from tests.wording_support import order_text, reasons, said

Resource = dict[str, Any]


def adult(*items: Resource, kg: float = 70) -> list[Resource]:
    return [patient(), car_t(hours_ago=200), weight(kg), *items]


def vitals(hours_ago: float = 1, temp_c: float = 38.6, systolic: float = 120, o2: str = "room air") -> list[Resource]:
    return [temp(hours_ago, temp_c), bp(hours_ago, systolic), spo2(hours_ago, 96), device(hours_ago, o2)]


def steps_of(resources: list[Resource]) -> str:
    return said(chart(resources).next_steps)


@pytest.mark.parametrize(
    ("case", "resources"),
    [
        ("M-G1 reminders at managed grade 2", adult(*vitals(systolic=85))),
        ("M-G1 reminders at managed grade 3", adult(*vitals(), given("norepinephrine", 3, running=True))),
    ],
)
def test_M_G1_reminders_stay_at_every_managed_grade(case: str, resources: list[Resource]) -> None:
    steps = steps_of(resources)

    assert "GM-CSF (sargramostim) is NOT recommended" in steps, case
    assert "No ANC in the last 48 h" in steps, case


def persistent_fever_then_tocilizumab(grade_now_temp: float = 38.5) -> list[Resource]:
    """Grade 1 fever every 6 h for 5 days (managed as grade 2 from > 72 h), tocilizumab 30 h ago, still febrile."""
    charted = [item for h in range(120, 2, -6) for item in vitals(h, temp_c=38.4)]
    return adult(*charted, *vitals(temp_c=grade_now_temp), given("tocilizumab", 30, dose=(560, "mg")))


def test_M_G2_ESCALATE_persistent_fever_managed_as_grade_2_escalates() -> None:
    assessment = chart(persistent_fever_then_tocilizumab())

    assert (assessment.grade, assessment.managed_grade) == (1, 3)
    assert {"M-G1-PERSISTENT", "M-G2-ESCALATE"} <= set(assessment.rules)


def test_M_G2_ESCALATE_unknown_grade_at_the_dose_is_taken_as_2() -> None:
    """No blood pressure or oxygen in the 24 h before the dose: the grade then is unknown, taken as 2 (the dose
    was given for managed grade >= 2); grade 2 now, no improvement: escalate."""
    resources = adult(*vitals(systolic=85), given("tocilizumab", 30, dose=(560, "mg")), bp(70, 85), temp(70, 38.5))

    assessment = chart(resources)

    assert assessment.managed_grade == 3
    assert "M-G2-ESCALATE" in assessment.rules


def test_M_G2_ESCALATE_not_when_the_grade_now_is_unknown() -> None:
    """Grade 2 at the dose; now a temperature only (no blood pressure or oxygen in 24 h): no escalation."""
    resources = adult(temp(1, 38.6), given("tocilizumab", 30), temp(31, 38.6), bp(31, 85), device(31, "room air"))

    assert "M-G2-ESCALATE" not in chart(resources).rules


def grade4_with_methylprednisolone(doses: Sequence[tuple[float, float]]) -> list[Resource]:
    drips = [given("norepinephrine", 80, running=True), given("phenylephrine", 80, running=True)]
    return adult(
        *vitals(),
        *drips,
        *(given("methylprednisolone", h, dose=(mg, "mg")) for h, mg in doses),
        given("tocilizumab", 70),
    )


def test_M_G4_taper_steps_down_while_grade_4_one_statement_and_the_1000_mg_option() -> None:
    """Day 4 of the course: today's step is 250 mg; still grade 4 after > 24 h: 1000 mg, not pre-selected."""
    doses = [(h, 500.0) for h in (80, 68, 56, 44, 32, 20)] + [(8, 250.0)]
    assessment = chart(grade4_with_methylprednisolone(doses))
    steps = said(assessment.next_steps)

    assert "day 4 of the course: today's step is 250 mg every 12 h" in steps
    assert "Continue" not in steps
    (escalation,) = [o for o in assessment.recommended if o.drug == "methylprednisolone"]
    assert (escalation.dose_mg, escalation.is_recommended) == (1000, False)
    assert "500 mg" not in order_text(escalation)


def test_M_G4_no_1000_mg_in_the_first_24_h() -> None:
    assessment = chart(grade4_with_methylprednisolone([(20, 500.0), (8, 500.0)]))

    assert not [o for o in assessment.recommended if o.drug == "methylprednisolone"]


@pytest.mark.parametrize(
    ("case", "icans_grade", "indicator"),
    [
        ("M-ICANS-ALONE ICANS grade 3 after CRS resolved: critical", 3, "critical"),
        ("M-ICANS-ALONE ICANS grade 1 without CRS: warning", 1, "warning"),
    ],
)
def test_M_ICANS_ALONE(case: str, icans_grade: int, indicator: str) -> None:
    assessment = chart(adult(*vitals(temp_c=37.0), icans(2, icans_grade)))

    assert assessment.indicator == indicator, case
    steps = said(assessment.next_steps)
    assert f"ICANS grade {icans_grade} (10:00 UTC, 2 h ago) without CRS" in steps
    assert "follow the institutional ICANS protocol" in steps
    assert "Tocilizumab is not a treatment for isolated ICANS" in steps
    assert assessment.recommended == ()


GRADE3 = [*vitals(), given("norepinephrine", 3, running=True)]


@pytest.mark.parametrize(
    ("case", "running", "suggested", "step"),
    [
        (
            "M-ACTIVE-ORDER dexamethasone q12h order at grade 3: named, q6h suggested",
            order("dexamethasone", dose=(10, "mg"), every_hours=12),
            True,
            "Running: dexamethasone 10 mg every 12 h, ordered 11:00 UTC, 1 h ago, less intensive",
        ),
        (
            "M-ACTIVE-ORDER hydrocortisone 100 mg q6h (3.75 mg dexamethasone): less intensive, named",
            order("hydrocortisone", dose=(100, "mg"), every_hours=6),
            True,
            "Running: hydrocortisone 100 mg every 6 h",
        ),
        (
            "M-ACTIVE-ORDER methylprednisolone 60 mg q6h (11.3 mg dexamethasone): at least as intensive",
            order("methylprednisolone", dose=(60, "mg"), every_hours=6),
            False,
            "Continue methylprednisolone 60 mg every 6 h",
        ),
        (
            "M-ACTIVE-ORDER dexamethasone given 12 h and 6 h ago (q6h gap): continue",
            [given("dexamethasone", 12, dose=(10, "mg")), given("dexamethasone", 6, dose=(10, "mg"))],
            False,
            "Continue dexamethasone 10 mg every 6 h, last given 06:00 UTC, 6 h ago",
        ),
        (
            "M-ACTIVE-ORDER dexamethasone 4 mg given 2 h ago: less intensive",
            given("dexamethasone", 2, dose=(4, "mg")),
            True,
            "Running: dexamethasone 4 mg, last given",
        ),
    ],
)
def test_M_ACTIVE_ORDER_intensity(case: str, running: Any, suggested: bool, step: str) -> None:
    extra = running if isinstance(running, list) else [running]
    assessment = chart(adult(*GRADE3, *extra))

    dexamethasone = [o for o in assessment.recommended if o.drug == "dexamethasone"]
    assert bool(dexamethasone) == suggested, case
    assert step in said(assessment.next_steps), case


def test_M_TOCI_LIMITS_next_allowed_time_on_the_card_is_when_every_limit_holds() -> None:
    doses = [given("tocilizumab", h, dose=(560, "mg")) for h in (22, 14, 2)]

    (withheld,) = chart(adult(*vitals(systolic=85), *doses)).withheld

    assert withheld.next_allowed_at == NOW + timedelta(hours=6)
    assert reasons(withheld) == "3 doses in the last 24 h; less than 8 h since the last dose (10:00 UTC, 2 h ago)"


def test_M_TOCI_LIMITS_grade_at_last_dose_with_fever_unknown_is_unknown_not_0() -> None:
    """The last dose 10 h ago with no temperature charted around it: the repeat is not blocked as an improvement."""
    resources = adult(
        *vitals(systolic=85), given("tocilizumab", 10, dose=(560, "mg")), bp(11, 85), device(11, "room air")
    )

    assessment = chart(resources)

    assert "grade-at-last-dose-unknown" in assessment.flags
    assert [o.drug for o in assessment.recommended] == ["tocilizumab"]


def test_R_PLAUSIBLE_weight_typo_gives_tocilizumab_per_kg_and_names_it() -> None:
    resources = [patient(), car_t(hours_ago=200), weight(70, 100), weight(7, 3), *vitals(systolic=85)]

    assessment = chart(resources)

    (toci,) = assessment.recommended
    assert (toci.dose_mg, toci.dose_mg_per_kg) == (None, 8)
    assert "weight-implausible" in assessment.flags
    assert "the latest weight is implausible" in order_text(toci)
