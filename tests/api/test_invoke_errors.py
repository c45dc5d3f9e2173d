"""Every client mistake on POST /cds-services/{id} gets a 4xx with a JSON body naming it (checklist R1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import hook_body


def without(path: str, hook: str = "patient-view") -> dict[str, Any]:
    body = hook_body(hook)
    *parents, leaf = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[leaf]
    return body


def with_value(path: str, value: Any, hook: str = "patient-view") -> dict[str, Any]:
    body = hook_body(hook)
    *parents, leaf = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[leaf] = value
    return body


BAD_BODIES = [
    # (case, service id, body, text the message must contain)
    ("missing hook", "crs-patient-view", without("hook"), "hook"),
    ("missing hookInstance", "crs-patient-view", without("hookInstance"), "hookInstance"),
    ("missing context", "crs-patient-view", without("context"), "context"),
    ("context not an object", "crs-patient-view", with_value("context", "pat-1"), "context"),
    ("hook does not match service", "crs-order-sign", hook_body("patient-view"), "does not match"),
    ("missing patientId", "crs-patient-view", without("context.patientId"), "context.patientId"),
    ("missing userId", "crs-patient-view", without("context.userId"), "context.userId"),
    (
        "patientId not a FHIR id",
        "crs-patient-view",
        with_value("context.patientId", "../Patient?x=1"),
        "patientId",
    ),
    ("userId not a reference", "crs-patient-view", with_value("context.userId", "doc-1"), "userId"),
    (
        "order-select without selections",
        "crs-order-select",
        without("context.selections", "order-select"),
        "selections",
    ),
    (
        "selection not among draftOrders",
        "crs-order-select",
        with_value("context.selections", ["MedicationRequest/other"], "order-select"),
        "context.selections: not found in draftOrders: MedicationRequest/other",
    ),
    (
        "order-sign without draftOrders",
        "crs-order-sign",
        without("context.draftOrders", "order-sign"),
        "draftOrders",
    ),
    (
        "draftOrders not a Bundle",
        "crs-order-sign",
        with_value("context.draftOrders", {"resourceType": "MedicationRequest"}, "order-sign"),
        "draftOrders",
    ),
    (
        "fhirAuthorization without fhirServer",
        "crs-patient-view",
        hook_body(fhirAuthorization={"access_token": "t", "token_type": "Bearer"}),
        "fhirServer",
    ),
    (
        "token type not Bearer",
        "crs-patient-view",
        hook_body(
            fhirServer="https://fhir.example.org/r4",
            fhirAuthorization={"access_token": "t", "token_type": "MAC"},
        ),
        "Bearer",
    ),
    ("prefetch not an object", "crs-patient-view", hook_body(prefetch=["x"]), "prefetch"),
    (
        "prefetch value neither resource nor null",
        "crs-patient-view",
        with_value("prefetch.observations", "lots of data"),
        "prefetch.observations",
    ),
]


@pytest.mark.parametrize(("case", "service_id", "body", "named"), BAD_BODIES, ids=[row[0] for row in BAD_BODIES])
def test_invalid_request_is_400_naming_the_problem(
    client: FlaskClient, case: str, service_id: str, body: dict[str, Any], named: str
) -> None:
    response = client.post(f"/cds-services/{service_id}", json=body)

    assert response.status_code == 400, case
    assert response.json["error"] == "bad_request"
    assert named in response.json["message"]


@pytest.mark.parametrize(
    ("case", "data", "content_type", "named"),
    [
        ("malformed JSON", b'{"hook": ', "application/json", "not valid JSON"),
        ("JSON array body", b"[]", "application/json", "JSON object"),
        ("not UTF-8", b'{"hook": "\xff"}', "application/json", "not valid JSON"),
        ("form content type", b"hook=patient-view", "application/x-www-form-urlencoded", "Content-Type"),
    ],
)
def test_unreadable_body_is_400(client: FlaskClient, case: str, data: bytes, content_type: str, named: str) -> None:
    response = client.post("/cds-services/crs-patient-view", data=data, content_type=content_type)

    assert response.status_code == 400, case
    assert named in response.json["message"]


def test_unknown_service_is_404_with_json_body(client: FlaskClient) -> None:
    response = client.post("/cds-services/no-such-service", json=hook_body())

    assert response.status_code == 404
    assert response.json == {"error": "not_found", "message": "no CDS service with id 'no-such-service'"}


def test_unknown_path_is_404_json(client: FlaskClient) -> None:
    response = client.get("/nothing-here")

    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_oversized_body_is_413(client: FlaskClient, app: Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 2048
    body = hook_body(padding="x" * 4096)

    response = client.post("/cds-services/crs-patient-view", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 413
    assert response.json["error"] == "request_entity_too_large"


def test_unknown_fields_and_extensions_are_ignored(call_hook: Callable[..., Any]) -> None:
    body = hook_body(extension={"com.example.flag": True}, somethingNew=1)
    body["context"]["extraContextField"] = "x"

    response = call_hook(body)

    assert response.status_code == 200
    assert response.json == {"cards": []}


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
def test_valid_request_with_complete_prefetch_answers_200(call_hook: Callable[..., Any], hook: str) -> None:
    response = call_hook(hook_body(hook))

    assert response.status_code == 200
    assert response.json == {"cards": []}


def test_unexpected_error_is_500_without_stack_trace(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("service.hooks.invoke.resolve", explode)

    response = client.post("/cds-services/crs-patient-view", json=hook_body())

    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
