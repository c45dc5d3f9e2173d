"""R-UNIDENTIFIED over HTTP: a medicationReference to a Medication the data did not bring is read from the
EHR's FHIR server (same allowlist, token and deadline); one that cannot be read is named on the card."""

from __future__ import annotations

from typing import Any

import responses
from flask import Flask
from responses import matchers

from tests.conftest import FHIR_BASE, hook_body
from tests.fhir_builders import RXNORM, bp, car_t, device, given, prefetch, spo2, temp, weight

TOKEN = "opaque-access-token"
AUTHORIZATION = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "x", "subject": "s"}
TOCILIZUMAB = {"resourceType": "Medication", "id": "med-1", "code": {"coding": [{"system": RXNORM, "code": "612865"}]}}


def by_reference(hours_ago: float, reference: str) -> dict[str, Any]:
    dose = given("x", hours_ago, dose=(560, "mg"))
    del dose["medicationCodeableConcept"]
    dose["medicationReference"] = {"reference": reference}
    return dose


def call(app: Flask, administrations: list[dict[str, Any]]) -> Any:
    observations = [weight(70), temp(1, 38.9), bp(1, 84), spo2(1, 95), device(1, "room air")]
    body = hook_body(
        prefetch=prefetch(observations, [car_t(hours_ago=96), *administrations]),
        fhirServer=FHIR_BASE,
        fhirAuthorization=AUTHORIZATION,
    )
    return app.test_client().post("/cds-services/crs-patient-view", json=body)


@responses.activate
def test_R_UNIDENTIFIED_referenced_medication_is_fetched_once_with_the_token(app: Flask) -> None:
    responses.get(
        f"{FHIR_BASE}/Medication/med-1",
        json=TOCILIZUMAB,
        match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )
    doses = [by_reference(h, "Medication/med-1") for h in (22, 14, 2)]

    response = call(app, doses)

    assert response.status_code == 200
    assert len(responses.calls) == 1  # one request per distinct Medication
    (card,) = response.json["cards"]
    assert "unidentified-medications" not in card["extension"]["crs-assessment"].get("flags", [])
    assert "suggestions" not in card  # three doses in 24 h: no fourth is suggested


@responses.activate
def test_R_UNIDENTIFIED_a_medication_that_cannot_be_read_is_named_never_a_failed_call(app: Flask) -> None:
    responses.get(f"{FHIR_BASE}/Medication/med-2", status=404, json={"resourceType": "OperationOutcome"})

    response = call(app, [by_reference(5, "Medication/med-2")])

    assert response.status_code == 200
    (card,) = response.json["cards"]
    assert "unidentified-medications" in card["extension"]["crs-assessment"]["flags"]
    assert card["indicator"] in ("warning", "critical")
