"""FHIR R4 JSON -> timeline: codes, units, statuses and effective[x], one quirk per row."""

from __future__ import annotations

from typing import Any

import pytest

from service.crs.timeline import Timeline
from tests.fhir_builders import (
    RXNORM,
    TRANSLATOR,
    _obs,
    bp,
    device,
    fio2,
    flow,
    given,
    icans,
    ice_score,
    lab,
    mean_pressure,
    order,
    patient,
    spo2,
    temp,
    weight,
)

Resource = dict[str, Any]


def translate(*resources: Resource) -> Timeline:
    return TRANSLATOR.timeline(list(resources))


@pytest.mark.parametrize(
    ("resource", "expected_c"),
    [
        (temp(1, 38.0), 38.0),
        (temp(1, 100.4, "[degF]"), 38.0),
        (temp(1, 98.6, "[degF]"), 37.0),
        (temp(1, 37.5, "°C"), 37.5),
    ],
)
def test_C1_temperature_units_convert_exactly(resource: Resource, expected_c: float) -> None:
    assert [t.temp_c for t in translate(resource).temperatures.items] == [expected_c]


def test_unknown_unit_is_ignored_with_a_flag() -> None:
    timeline = translate(temp(1, 38.5, "K"), lab("crp", 5, unit="g/furlong"))

    assert timeline.temperatures.items == ()
    assert timeline.labs.items == ()
    assert "unknown-unit" in timeline.translation_flags


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered"])
def test_observations_that_are_not_results_are_ignored(status: str) -> None:
    observation = temp(1, 39)
    observation["status"] = status

    assert translate(observation).temperatures.items == ()


def test_partial_date_effective_time_is_not_placed_in_hour_windows() -> None:
    observation = temp(1, 39)
    observation["effectiveDateTime"] = "2026-11-20"

    assert translate(observation).temperatures.items == ()


def test_effective_period_start_is_the_time() -> None:
    observation = temp(1, 39)
    del observation["effectiveDateTime"]
    observation["effectivePeriod"] = {"start": "2026-11-20T10:00:00+01:00"}

    assert translate(observation).temperatures.items[0].at.isoformat() == "2026-11-20T09:00:00+00:00"


def test_blood_pressure_panel_components_and_standalone_map() -> None:
    timeline = translate(bp(2, 88, 50), mean_pressure(1, 61))

    readings = [(r.systolic_mmhg, r.mean_mmhg) for r in timeline.blood_pressures.items]
    assert readings == [(88.0, None), (None, 61.0)]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (spo2(1, 93, flow_l_min=3), (None, 3.0, None)),
        (spo2(1, 93, fio2=40), (None, None, 40.0)),
        (flow(1, 500, "mL/min"), (None, 0.5, None)),
        (fio2(1, 0.35, "1"), (None, None, 35.0)),
        (device(1, "nasal cannula"), ("nasal-cannula", None, None)),
        (device(1, "room air"), ("room-air", None, None)),
        (device(1, "BiPAP mask"), ("positive-pressure", None, None)),
    ],
)
def test_oxygen_support(resource: Resource, expected: tuple[str | None, float | None, float | None]) -> None:
    record = translate(resource).oxygen.items[0]

    assert (record.device, record.flow_l_min, record.fio2_pct) == expected


def test_spo2_alone_documents_no_support() -> None:
    timeline = translate(spo2(1, 91))

    assert [s.percent for s in timeline.spo2.items] == [91.0]
    assert timeline.oxygen.items == ()


def test_G_HYPOXIA_device_code_counts_whatever_the_observation_code() -> None:
    site_row = _obs(
        ("http://hospital.example.org/flowsheet", "O2-DELIVERY"),
        1,
        valueCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "LA11849-9", "display": "Room air"}]},
    )

    assert [r.device for r in translate(site_row).oxygen.items] == ["room-air"]


@pytest.mark.parametrize(("value", "unit", "kg"), [(70, "kg", 70.0), (154, "[lb_av]", 69.853225), (25000, "g", 25.0)])
def test_weight_units(value: float, unit: str, kg: float) -> None:
    assert translate(weight(value, unit=unit)).weights.items[0].weight_kg == pytest.approx(kg)


@pytest.mark.parametrize(
    ("kind", "value", "unit", "canonical"),
    [
        ("ferritin", 10000, "ng/mL", 10000),
        ("ferritin", 22470, "pmol/L", 10000),
        ("crp", 5, "mg/dL", 50),
        ("anc", 400, "/uL", 0.4),
        ("anc", 0.4, "10*3/uL", 0.4),
        ("bilirubin", 171, "umol/L", 10),
        ("creatinine", 88.4, "umol/L", 1),
        ("alt", 300, "U/L", 300),
    ],
)
def test_lab_units(kind: str, value: float, unit: str, canonical: float) -> None:
    result = translate(lab(kind, value, unit=unit)).labs.items[0]

    assert result.kind == kind
    assert result.value == pytest.approx(canonical)


def test_lab_upper_limit_comes_from_reference_range() -> None:
    assert translate(lab("alt", 300, uln=35)).labs.items[0].upper_limit == 35


def test_icans_grade_ice_score_and_icd10() -> None:
    coded = _obs(
        ("urn:crs-cds:codes", "icans-grade"),
        1,
        valueCodeableConcept={"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G92.03"}]},
    )
    timeline = translate(icans(3, 2), ice_score(2, 5), ice_score(2.5, 10), ice_score(2.6, 0), coded)

    grades = [(r.grade, r.from_ice_score) for r in timeline.icans.items]
    assert grades == [(2, False), (3, True), (0, True), (2, True), (3, False)]


@pytest.mark.parametrize(
    ("medication", "drug"),
    [
        ({"coding": [{"system": RXNORM, "code": "612865"}]}, "tocilizumab"),
        ({"text": "Actemra 400 mg in 100 mL NS"}, "tocilizumab"),
        (
            {
                "coding": [
                    {
                        "system": RXNORM,
                        "code": "999999",
                        "display": "Dexamethasone sodium phosphate 4 MG/ML Injectable Solution",
                    }
                ]
            },
            "dexamethasone",
        ),
        ({"text": "NOREPINEPHRINE 4 mg/250 mL infusion"}, "norepinephrine"),
        ({"text": "EPINEPHRINE infusion"}, "epinephrine"),
        ({"text": "Yescarta (axicabtagene ciloleucel) suspension"}, "axicabtagene-ciloleucel"),
        ({"text": "Sodium chloride 0.9 % bolus"}, "sodium-chloride"),
        ({"text": "ondansetron"}, None),
    ],
)
def test_medication_matching_by_code_then_name(medication: dict[str, Any], drug: str | None) -> None:
    resource = given("x", 1)
    resource["medicationCodeableConcept"] = medication

    assert [a.drug for a in translate(resource).administrations.items] == ([drug] if drug else [])


def test_medication_reference_to_contained_medication() -> None:
    resource = given("x", 1)
    del resource["medicationCodeableConcept"]
    resource["contained"] = [
        {"resourceType": "Medication", "id": "med1", "code": {"coding": [{"system": RXNORM, "code": "6902"}]}}
    ]
    resource["medicationReference"] = {"reference": "#med1"}

    assert translate(resource).administrations.items[0].drug == "methylprednisolone"


@pytest.mark.parametrize("status", ["entered-in-error", "not-done", "unknown"])
def test_administrations_not_given_are_ignored(status: str) -> None:
    assert translate(given("tocilizumab", 1, status=status)).administrations.items == ()


def test_administration_dose_volume_and_infusion() -> None:
    timeline = translate(
        given("tocilizumab", 3, dose=(0.56, "g")),
        given("sodium chloride 0.9 %", 2, dose=(500, "mL"), ended_hours_ago=1.5),
        given("norepinephrine", 1, running=True),
    )

    toci, fluid, pressor = timeline.administrations.items
    assert (toci.dose_mg, toci.is_infusion) == (560.0, False)
    assert (fluid.volume_ml, fluid.is_infusion, fluid.end is not None) == (500.0, True, True)
    assert (pressor.status, pressor.is_infusion, pressor.end) == ("in-progress", True, None)


def test_orders_read_dose_and_interval() -> None:
    timeline = TRANSLATOR.timeline(
        [order("dexamethasone", dose=(10, "mg"), every_hours=6), order("tocilizumab", status="completed")],
        [order("tocilizumab", status="draft", dose=(8, "mg/kg"))],
    )

    assert [(o.drug, o.dose_mg, o.interval_hours) for o in timeline.orders] == [("dexamethasone", 10.0, 6.0)]
    assert [(o.drug, o.dose_mg_per_kg) for o in timeline.draft_orders] == [("tocilizumab", 8.0)]


def test_patient_birth_date_and_unknown_resources() -> None:
    timeline = translate(
        patient("2015-03-02"), {"resourceType": "Condition", "id": "c"}, {"resourceType": "Observation"}
    )

    assert timeline.birth_date is not None
    assert timeline.birth_date.isoformat() == "2015-03-02"


def test_partial_birth_date_is_unknown_age() -> None:
    assert translate(patient("1970")).birth_date is None


def _by_reference(reference: dict[str, Any], contained: list[Resource] | None = None) -> Resource:
    resource = given("x", 1)
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = reference
    if contained:
        resource["contained"] = contained
    return resource


@pytest.mark.parametrize(
    ("resource", "fetched", "drug"),
    [
        pytest.param(_by_reference({"display": "Tocilizumab 400 mg/20 mL"}), {}, "tocilizumab", id="display"),
        pytest.param(
            _by_reference({"reference": "Medication/m1"}),
            {
                "Medication/m1": {
                    "resourceType": "Medication",
                    "code": {"coding": [{"system": RXNORM, "code": "612865"}]},
                }
            },
            "tocilizumab",
            id="fetched",
        ),
        pytest.param(
            _by_reference({"reference": "https://ehr.example/fhir/Medication/m1"}),
            {"Medication/m1": {"resourceType": "Medication", "code": {"text": "ACTEMRA"}}},
            "tocilizumab",
            id="fetched-absolute",
        ),
        pytest.param(_by_reference({"reference": "Medication/m1"}), {}, None, id="not-fetched"),
    ],
)
def test_R_UNIDENTIFIED_medication_identity(resource: Resource, fetched: dict[str, Resource], drug: str | None) -> None:
    """R-UNIDENTIFIED: a drug is read from display, contained or fetched Medication; never guessed."""
    timeline = TRANSLATOR.timeline([resource], medications=fetched)

    assert [a.drug for a in timeline.administrations.items] == ([drug] if drug else [])
    assert len(timeline.unidentified_medications) == (0 if drug else 1)


def test_R_UNIDENTIFIED_medications_and_codes() -> None:
    unknown = given("x", 3)
    unknown["medicationCodeableConcept"] = {"coding": [{"system": "urn:site:meds", "code": "T-400", "display": "TCZ"}]}
    active_order = order("dexamethasone")
    active_order["medicationCodeableConcept"] = {"text": "site steroid"}
    stopped = given("x", 2, status="not-done")
    heart_rate = _obs(("http://loinc.org", "8867-4"), 1)

    timeline = translate(unknown, active_order, stopped, heart_rate)

    assert [(u.resource_type, u.name) for u in timeline.unidentified_medications] == [
        ("MedicationAdministration", "TCZ"),
        ("MedicationRequest", "site steroid"),
    ]
    assert [(c.resource_type, c.system, c.code, c.display) for c in timeline.unrecognised_codes] == [
        ("MedicationAdministration", "urn:site:meds", "T-400", "TCZ"),
        ("MedicationRequest", None, None, "site steroid"),
        ("Observation", "http://loinc.org", "8867-4", None),
    ]


def test_R_UNIDENTIFIED_medication_included_in_the_search_bundle_is_read_whatever_the_order() -> None:
    """``_include=MedicationAdministration:medication`` returns the Medication beside the administrations."""
    administration = _by_reference({"reference": "Medication/m9"})
    medication = {"resourceType": "Medication", "id": "m9", "code": {"coding": [{"system": RXNORM, "code": "3264"}]}}

    for resources in ([administration, medication], [medication, administration]):
        timeline = translate(*resources)
        assert [a.drug for a in timeline.administrations.items] == ["dexamethasone"]
        assert timeline.unidentified_medications == ()


def _with(resource: Resource, **fields: Any) -> Resource:
    return {**resource, **fields}


@pytest.mark.parametrize(
    ("name", "resource", "read"),
    [
        ("status sent as a list", _with(temp(1, 38.4), status=["final"]), lambda t: t.temperatures.items == ()),
        (
            "status sent as an object",
            _with(given("tocilizumab", 2, dose=(560, "mg")), status={"code": "completed"}),
            lambda t: t.administrations.items == (),
        ),
        ("order status sent as a list", _with(order("dexamethasone"), status=["active"]), lambda t: t.orders == ()),
        ("component sent as a number", _with(bp(1, 88), component=5), lambda t: t.blood_pressures.items == ()),
        (
            "referenceRange sent as a number",
            _with(lab("ast", 80), referenceRange=5),
            lambda t: [(lab.value, lab.upper_limit) for lab in t.labs.items] == [(80.0, None)],
        ),
        (
            "contained sent as a number",
            {
                **{k: v for k, v in given("tocilizumab", 2).items() if k != "medicationCodeableConcept"},
                "contained": 5,
                "medicationReference": {"reference": "#med"},
            },
            lambda t: t.administrations.items == () and len(t.unidentified_medications) == 1,
        ),
        (
            "periodUnit sent as a list",
            _with(
                order("dexamethasone"),
                dosageInstruction=[{"timing": {"repeat": {"period": 6, "periodUnit": ["h"]}}}],
            ),
            lambda t: [o.interval_hours for o in t.orders] == [None],
        ),
    ],
)
def test_a_malformed_field_is_not_read_and_never_fatal(name: str, resource: Resource, read: Any) -> None:
    """Found by fuzzing at issue 13: each of these raised TypeError (a 500) before; now the field is not read."""
    assert read(translate(resource)), name
