"""R-UNIDENTIFIED against the real FHIR server: tocilizumab charted only as a ``medicationReference`` to a
Medication resource is identified, whether the search brings it (``_include``) or the service reads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from service.ehr_simulator import HookCall, Signer, call_service, hook_request
from tests.integration.conftest import FHIR_TOKEN, crs_cds_service
from tests.jwt_support import EhrKeys, write_clients_file

PATIENT = "crs-medication-reference"
NOW = datetime.now(UTC).replace(microsecond=0)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    kind, rid = resource["resourceType"], resource["id"]
    return {"resource": resource, "request": {"method": "PUT", "url": f"{kind}/{rid}"}}


def chart() -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{PATIENT}"}
    medication = {
        "resourceType": "Medication",
        "id": "crs-med-toci",
        "code": {"coding": [{"system": RXNORM, "code": "612865"}]},
    }
    doses = [
        {
            "resourceType": "MedicationAdministration", "id": f"crs-med-dose-{hours}", "status": "completed",
            "medicationReference": {"reference": "Medication/crs-med-toci"}, "subject": subject,
            "effectiveDateTime": at(hours), "dosage": {"dose": {"value": 560, "unit": "mg", "code": "mg"}},
        }
        for hours in (22, 14, 2)
    ]  # fmt: skip
    car_t = {
        "resourceType": "MedicationAdministration", "id": "crs-med-cart", "status": "completed", "subject": subject,
        "medicationCodeableConcept": {"text": "tisagenlecleucel (Kymriah)"}, "effectiveDateTime": at(96),
    }  # fmt: skip
    loinc = "http://loinc.org"
    observations = [
        {
            "resourceType": "Observation", "id": f"crs-med-{code}", "status": "final", "subject": subject,
            "code": {"coding": [{"system": loinc, "code": code}]}, "effectiveDateTime": at(1),
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        }
        for code, value, unit in (("8310-5", 38.9, "Cel"), ("8480-6", 84, "mm[Hg]"), ("29463-7", 70, "kg"))
    ]  # fmt: skip
    patient = {"resourceType": "Patient", "id": PATIENT, "birthDate": "1970-01-01"}
    return [patient, medication, car_t, *doses, *observations]


@pytest.fixture(scope="module")
def loaded(fhir_server: str) -> str:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry(r) for r in chart()]}
    response = requests.post(fhir_server, json=bundle, headers={"Authorization": f"Bearer {FHIR_TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return fhir_server


@pytest.fixture(scope="module")
def service_url(loaded: str, ehr_keys: EhrKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("medication-reference")
    clients = write_clients_file(folder / "clients.toml", ehr_keys, [loaded])
    with crs_cds_service(folder / "db.sqlite3", clients, workers=1) as base_url:
        yield base_url


def assert_three_doses_counted(cards: list[dict[str, Any]]) -> None:
    (card,) = cards
    assessment = card["extension"]["crs-assessment"]
    assert "unidentified-medications" not in assessment.get("flags", [])
    assert assessment["grade"] == 2
    assert not card.get("suggestions"), "three doses in 24 h: no fourth tocilizumab may be suggested"


def test_R_UNIDENTIFIED_the_service_fetching_the_chart_identifies_the_referenced_medication(
    service_url: str, loaded: str, signer: Signer
) -> None:
    call = HookCall(service_url, "patient-view", PATIENT, loaded, FHIR_TOKEN, prefetch=False, signer=signer)

    assert_three_doses_counted(call_service(call)["cards"])


def test_R_UNIDENTIFIED_a_prefetch_without_the_medication_makes_the_service_read_it(
    service_url: str, loaded: str, signer: Signer, fhir_server: str
) -> None:
    resources = chart()
    administrations = [r for r in resources if r["resourceType"] == "MedicationAdministration"]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    body = hook_request(HookCall(service_url, "patient-view", PATIENT, loaded, FHIR_TOKEN))
    body["prefetch"] = {
        "patient": resources[0],
        "observations": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in observations]},
        "medicationAdministrations": {
            "resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in administrations]
        },
        "medicationRequests": None,
    }  # fmt: skip
    requests.delete(fhir_server.replace("/fhir", "/__requests"), timeout=5)
    url = f"{service_url}/cds-services/crs-patient-view"

    response = requests.post(url, json=body, headers={"Authorization": f"Bearer {signer.token(url)}"}, timeout=30)

    assert response.status_code == 200, response.text[:500]
    assert_three_doses_counted(response.json()["cards"])
    recorded = requests.get(fhir_server.replace("/fhir", "/__requests"), timeout=5).json()
    assert [(r["path"], r["authorized"]) for r in recorded] == [("/fhir/Medication/crs-med-toci", True)]
