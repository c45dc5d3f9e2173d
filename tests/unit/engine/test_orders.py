"""Order checks (O-rules): each row is a chart, one draft order, and the check it must raise (or none)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.crs.engine import check_drafts
from service.crs.order_check import OrderCheck
from tests.fhir_builders import (
    NOW,
    POLICY,
    TRANSLATOR,
    bp,
    car_t,
    device,
    given,
    icans,
    order,
    patient,
    spo2,
    temp,
    weight,
)
from tests.wording_support import say

Resource = dict[str, Any]


def vitals(temp_c: float = 38.6, systolic: float = 120) -> list[Resource]:
    return [temp(1, temp_c), bp(1, systolic), spo2(1, 97), device(1, "room air")]


def after_car_t(*items: Resource, kg: float | None = 70, hours_ago: float = 96) -> list[Resource]:
    return [patient(), car_t(hours_ago=hours_ago), *([weight(kg)] if kg else []), *items]


GRADE1 = vitals()
GRADE2 = vitals(systolic=85)
GRADE3 = [*vitals(), given("norepinephrine", 4, running=True)]
GRADE4 = [*GRADE3, given("phenylephrine", 3, running=True)]


def draft(drug: str, dose: tuple[float, str] | None = None, every_hours: float | None = None) -> Resource:
    return order(drug, status="draft", dose=dose, every_hours=every_hours)


def checks_of(resources: list[Resource], drafted: Resource) -> tuple[OrderCheck, ...]:
    timeline = TRANSLATOR.timeline(resources, [drafted])
    return check_drafts(timeline, POLICY, NOW, timeline.draft_orders)[1]


# (case, chart, draft order, expected rules, expected indicator, expected corrected dose mg or None)
CASES = [
    (
        "O-TOCI-DOSE 1000 mg is above 800 mg",
        after_car_t(*GRADE2),
        draft("tocilizumab", (1000, "mg")),
        ["O-TOCI-DOSE"],
        "warning",
        560,
    ),
    (
        "O-TOCI-DOSE 620 mg for 70 kg is over 8 mg/kg + 10 %",
        after_car_t(*GRADE2),
        draft("tocilizumab", (620, "mg")),
        ["O-TOCI-DOSE"],
        "warning",
        560,
    ),
    (
        "O-TOCI-DOSE 610 mg for 70 kg is within 10 %",
        after_car_t(*GRADE2),
        draft("tocilizumab", (610, "mg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-DOSE 10 mg/kg ordered per kg",
        after_car_t(*GRADE2),
        draft("tocilizumab", (10, "mg/kg")),
        ["O-TOCI-DOSE"],
        "warning",
        560,
    ),
    (
        "O-TOCI-DOSE under 30 kg the label allows 12 mg/kg",
        after_car_t(*GRADE2, kg=25),
        draft("tocilizumab", (300, "mg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-DOSE under 30 kg above 12 mg/kg + 10 %",
        after_car_t(*GRADE2, kg=25),
        draft("tocilizumab", (340, "mg")),
        ["O-TOCI-DOSE"],
        "warning",
        200,
    ),
    (
        "O-TOCI-DOSE no weight: only the 800 mg cap",
        after_car_t(*GRADE2, kg=None),
        draft("tocilizumab", (700, "mg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-DOSE no weight and 900 mg: corrected to 8 mg/kg",
        after_car_t(*GRADE2, kg=None),
        draft("tocilizumab", (900, "mg")),
        ["O-TOCI-DOSE"],
        "warning",
        None,
    ),
    (
        "O-TOCI-LIMITS 3 doses in 24 h: critical with the next allowed time",
        after_car_t(*GRADE2, given("tocilizumab", 23), given("tocilizumab", 15), given("tocilizumab", 8.5)),
        draft("tocilizumab", (560, "mg")),
        ["O-TOCI-LIMITS"],
        "critical",
        None,
    ),
    (
        "O-TOCI-ICANS grade 1 CRS with ICANS 2",
        after_car_t(*GRADE1, icans(1, 2)),
        draft("tocilizumab", (560, "mg")),
        ["O-TOCI-ICANS"],
        "warning",
        None,
    ),
    (
        "O-TOCI-GRADE grade 1 without ICANS",
        after_car_t(*GRADE1),
        draft("tocilizumab", (560, "mg")),
        ["O-TOCI-GRADE"],
        "info",
        None,
    ),
    (
        "O-TOCI-GRADE grade 2 is indicated: nothing",
        after_car_t(*GRADE2),
        draft("tocilizumab", (560, "mg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-DOSE and O-TOCI-GRADE on one draft: one card, highest indicator",
        after_car_t(*GRADE1),
        draft("tocilizumab", (1000, "mg")),
        ["O-TOCI-DOSE", "O-TOCI-GRADE"],
        "warning",
        560,
    ),
    (
        "O-GMCSF sargramostim is contraindicated",
        after_car_t(*GRADE1),
        draft("sargramostim (Leukine)"),
        ["O-GMCSF"],
        "critical",
        None,
    ),
    ("O-GMCSF filgrastim raises nothing", after_car_t(*GRADE1), draft("filgrastim", (480, "ug")), [], None, None),
    (
        "O-STEROID-PREMED CAR T ordered, not given: no steroid premedication",
        [patient(), *vitals(temp_c=37), order("tisagenlecleucel")],
        draft("dexamethasone", (10, "mg")),
        ["O-STEROID-PREMED"],
        "warning",
        None,
    ),
    (
        "O-STEROID-PREMED CAR T given 12 h ago at grade 0",
        after_car_t(*vitals(temp_c=37), hours_ago=12),
        draft("dexamethasone", (10, "mg")),
        ["O-STEROID-PREMED"],
        "warning",
        None,
    ),
    (
        "O-STEROID-PREMED CAR T given 30 h ago: no premedication warning; O-STEROID-GRADE at grade 0",
        after_car_t(*vitals(temp_c=37), hours_ago=30),
        draft("dexamethasone", (10, "mg")),
        ["O-STEROID-GRADE"],
        "info",
        None,
    ),
    (
        "O-STEROID-PREMED not with ICANS",
        after_car_t(*vitals(temp_c=37), icans(1, 2), hours_ago=12),
        draft("dexamethasone", (10, "mg")),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-DOSE dexamethasone 4 mg q12h at grade 3: update to 10 mg q6h",
        after_car_t(*GRADE3),
        draft("dexamethasone", (4, "mg"), every_hours=12),
        ["O-STEROID-DOSE"],
        "info",
        10,
    ),
    (
        "O-STEROID-DOSE dexamethasone 10 mg q6h at grade 3: nothing",
        after_car_t(*GRADE3),
        draft("dexamethasone", (10, "mg"), every_hours=6),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-DOSE methylprednisolone 100 mg q12h is below dexamethasone 10 mg q6h (5.33 mg each)",
        after_car_t(*GRADE3),
        draft("methylprednisolone", (100, "mg"), every_hours=12),
        ["O-STEROID-DOSE"],
        "info",
        10,
    ),
    (
        "O-STEROID-DOSE methylprednisolone 125 mg q12h is above dexamethasone 10 mg q6h",
        after_car_t(*GRADE3),
        draft("methylprednisolone", (125, "mg"), every_hours=12),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-DOSE a draft matching the running taper step raises nothing",
        after_car_t(*GRADE4, *(given("methylprednisolone", h, dose=(500, "mg")) for h in (80, 68, 56, 44, 32, 20, 8))),
        draft("methylprednisolone", (250, "mg"), every_hours=12),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-DOSE no steroid regimen at grade 1: no dose check; O-STEROID-GRADE instead",
        after_car_t(*GRADE1),
        draft("dexamethasone", (4, "mg"), every_hours=12),
        ["O-STEROID-GRADE"],
        "info",
        None,
    ),
    # Revision 3
    (
        "O-TOCI-DOSE 10 mg/kg draft, adult without weight: above 8 mg/kg",
        after_car_t(*GRADE2, kg=None),
        draft("tocilizumab", (10, "mg/kg")),
        ["O-TOCI-DOSE"],
        "warning",
        None,
    ),
    (
        "O-TOCI-DOSE 8 mg/kg draft, adult without weight: nothing",
        after_car_t(*GRADE2, kg=None),
        draft("tocilizumab", (8, "mg/kg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-DOSE 12 mg/kg draft, child without weight: the label's 12 mg/kg is allowed",
        [patient("2019-05-01"), car_t(hours_ago=96), *vitals(systolic=60)],
        draft("tocilizumab", (12, "mg/kg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-DOSE 14 mg/kg draft, child without weight: above 12 mg/kg",
        [patient("2019-05-01"), car_t(hours_ago=96), *vitals(systolic=60)],
        draft("tocilizumab", (14, "mg/kg")),
        ["O-TOCI-DOSE"],
        "warning",
        None,
    ),
    (
        "O-TOCI-DOSE weight 70 kg then 7 kg: implausible, only the 800 mg cap applies to 560 mg",
        after_car_t(*GRADE2, weight(70, hours_ago=72), weight(7, hours_ago=2), kg=None),
        draft("tocilizumab", (560, "mg")),
        [],
        None,
        None,
    ),
    (
        "O-TOCI-LIMITS doses at -22, -14, -2 h: interval and 24 h window both block",
        after_car_t(*GRADE2, given("tocilizumab", 22), given("tocilizumab", 14), given("tocilizumab", 2)),
        draft("tocilizumab", (560, "mg")),
        ["O-TOCI-LIMITS"],
        "critical",
        None,
    ),
    (
        "O-STEROID-HIGH dexamethasone 40 mg at grade 3: warning, update to 10 mg q6h",
        after_car_t(*GRADE3),
        draft("dexamethasone", (40, "mg"), every_hours=6),
        ["O-STEROID-HIGH"],
        "warning",
        10,
    ),
    (
        "O-STEROID-HIGH dexamethasone 20 mg is the limit itself: nothing",
        after_car_t(*GRADE3),
        draft("dexamethasone", (20, "mg"), every_hours=6),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-HIGH methylprednisolone 2000 mg at grade 4: warning, update to 500 mg",
        after_car_t(*GRADE4),
        draft("methylprednisolone", (2000, "mg"), every_hours=12),
        ["O-STEROID-HIGH"],
        "warning",
        500,
    ),
    (
        "O-STEROID-GRADE hydrocortisone at grade 1: not indicated (info)",
        after_car_t(*GRADE1),
        draft("hydrocortisone", (100, "mg"), every_hours=8),
        ["O-STEROID-GRADE"],
        "info",
        None,
    ),
    (
        "O-STEROID-GRADE not with ICANS grade 2",
        after_car_t(*vitals(temp_c=37), icans(1, 2)),
        draft("dexamethasone", (10, "mg"), every_hours=6),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-GRADE not while a methylprednisolone taper runs",
        after_car_t(*GRADE1, given("methylprednisolone", 6, dose=(125, "mg"))),
        draft("methylprednisolone", (125, "mg"), every_hours=12),
        [],
        None,
        None,
    ),
    (
        "O-STEROID-GRADE not in the premedication window (O-STEROID-PREMED speaks)",
        after_car_t(*vitals(temp_c=37), hours_ago=10),
        draft("dexamethasone", (10, "mg")),
        ["O-STEROID-PREMED"],
        "warning",
        None,
    ),
    (
        "O-CART-FILTER CAR T product draft",
        after_car_t(*GRADE1),
        draft("Kymriah (tisagenlecleucel)"),
        ["O-CART-FILTER"],
        "info",
        None,
    ),
    (
        "O-rules an unrecognised draft gets no check",
        after_car_t(*GRADE1),
        draft("ondansetron", (4, "mg")),
        [],
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "resources", "drafted", "rules", "indicator", "corrected_mg"), CASES, ids=[row[0] for row in CASES]
)
def test_order_check(
    case: str,
    resources: list[Resource],
    drafted: Resource,
    rules: list[str],
    indicator: str | None,
    corrected_mg: float | None,
) -> None:
    checks = checks_of(resources, drafted)

    if not rules:
        assert checks == (), case
        return
    (check,) = checks
    assert list(check.rules) == rules
    assert check.indicator == indicator
    assert check.draft == f"MedicationRequest/{drafted['id']}"
    if corrected_mg is not None:
        assert check.corrected is not None
        assert check.corrected.dose_mg == corrected_mg


def test_O_TOCI_DOSE_without_weight_corrects_to_8_mg_per_kg() -> None:
    (check,) = checks_of(after_car_t(*GRADE2, kg=None), draft("tocilizumab", (900, "mg")))

    assert check.corrected is not None
    assert (check.corrected.dose_mg, check.corrected.dose_mg_per_kg) == (None, 8)


def test_O_TOCI_LIMITS_names_the_next_allowed_time() -> None:
    resources = after_car_t(*GRADE2, given("tocilizumab", 23), given("tocilizumab", 15), given("tocilizumab", 8.5))

    (check,) = checks_of(resources, draft("tocilizumab", (560, "mg")))

    assert check.next_allowed_at is not None
    assert check.next_allowed_at.isoformat() == "2026-11-20T13:00:00+00:00"
    assert "3 doses in the last 24 h" in say(check.messages[0])


def test_O_TOCI_LIMITS_next_allowed_time_is_when_every_limit_holds() -> None:
    """Doses at -22, -14, -2 h: the window frees a dose at +2 h, the 8 h interval only at +6 h."""
    resources = after_car_t(*GRADE2, given("tocilizumab", 22), given("tocilizumab", 14), given("tocilizumab", 2))

    (check,) = checks_of(resources, draft("tocilizumab", (560, "mg")))

    assert check.next_allowed_at == NOW + timedelta(hours=6)
    assert "3 doses in the last 24 h" in say(check.messages[0])
    assert "less than 8 h since the last dose" in say(check.messages[0])


def test_O_TOCI_LIMITS_24_h_window_binds_when_the_interval_has_passed() -> None:
    resources = after_car_t(*GRADE2, given("tocilizumab", 23), given("tocilizumab", 15), given("tocilizumab", 9))

    (check,) = checks_of(resources, draft("tocilizumab", (560, "mg")))

    assert check.next_allowed_at == NOW + timedelta(hours=1)
    assert "less than 8 h" not in say(check.messages[0])


def test_O_STEROID_PREMED_label_prophylaxis_option_for_axicabtagene() -> None:
    """The axicabtagene ciloleucel label's dexamethasone 10 mg daily on days 0-2 raises nothing when enabled."""
    steroids = POLICY.steroids
    enabled = POLICY.model_copy(
        update={
            "steroids": steroids.model_copy(
                update={"label_prophylaxis": steroids.label_prophylaxis.model_copy(update={"enabled": True})}
            )
        }
    )
    chart = [patient(), car_t("axicabtagene ciloleucel", hours_ago=20), weight(70), *vitals(temp_c=37)]
    prophylaxis = draft("dexamethasone", (10, "mg"), every_hours=24)
    timeline = TRANSLATOR.timeline(chart, [prophylaxis])

    assert check_drafts(timeline, enabled, NOW, timeline.draft_orders)[1] == ()
    (default_check,) = check_drafts(timeline, POLICY, NOW, timeline.draft_orders)[1]
    assert default_check.rules == ("O-STEROID-PREMED",)


def test_O_GMCSF_suggests_deleting_the_draft() -> None:
    (check,) = checks_of(after_car_t(*GRADE1), draft("sargramostim"))

    assert check.delete is True


def test_O_STEROID_DOSE_update_switches_to_the_protocol_drug_at_grade_4() -> None:
    (check,) = checks_of(after_car_t(*GRADE4), draft("dexamethasone", (10, "mg"), every_hours=12))

    assert check.corrected is not None
    assert (check.corrected.drug, check.corrected.dose_mg, check.corrected.interval_hours) == (
        "methylprednisolone",
        500,
        12,
    )


def test_order_checks_only_for_patients_in_scope() -> None:
    timeline = TRANSLATOR.timeline([patient(), *GRADE1], [draft("sargramostim")])

    assessment, checks = check_drafts(timeline, POLICY, NOW, timeline.draft_orders)

    assert not assessment.in_scope
    assert checks == ()


@pytest.mark.parametrize(("case", "resources", "drafted"), [row[:3] for row in CASES], ids=[row[0] for row in CASES])
def test_order_check_messages_have_registered_wording_keys(
    case: str, resources: list[Resource], drafted: Resource
) -> None:
    from service.crs.notes import NOTE_PARAMS

    for check in checks_of(resources, drafted):
        for note in check.messages:
            assert set(note.params) <= set(NOTE_PARAMS[note.key]), case
