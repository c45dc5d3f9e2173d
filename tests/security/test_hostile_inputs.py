"""Hostile and broken inputs: each gets the right status and a readable reason; nothing crashes, nothing
is written twice or lost, and no request makes the service call an address it was not allowed."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import FHIR_BASE, PATIENT_ID, full_prefetch, hook_body

URL = "/cds-services/crs-patient-view"
TOKEN = {"access_token": "opaque", "token_type": "Bearer", "expires_in": 300, "scope": "x", "subject": "s"}


def fetching(fhir_server: str) -> dict[str, Any]:
    """A call that must fetch observations from ``fhir_server``."""
    prefetch = full_prefetch()
    del prefetch["observations"]
    return hook_body(prefetch=prefetch, fhirServer=fhir_server, fhirAuthorization=TOKEN)


SSRF = [
    "http://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:22",
    "http://localhost:8080/cds-services",
    "https://10.0.0.1/fhir",
    "https://192.168.1.10/fhir",
    "http://[::1]/fhir",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    f"{FHIR_BASE}/../admin",
    f"{FHIR_BASE}.attacker.example.net",
    "https://fhir.example.org@attacker.example.net/r4",
]


@pytest.mark.parametrize("fhir_server", SSRF)
@responses.activate
def test_R2_fhir_server_not_allowed_for_the_issuer_is_400_with_no_outbound_call(
    client: FlaskClient, fhir_server: str
) -> None:
    response = client.post(URL, json=fetching(fhir_server))

    assert response.status_code == 400
    assert "fhirServer is not an allowed FHIR server" in response.json["message"]
    assert len(responses.calls) == 0


@responses.activate
def test_allowed_fhir_server_is_called(client: FlaskClient) -> None:
    responses.get(f"{FHIR_BASE}/Observation", json={"resourceType": "Bundle", "type": "searchset"})

    assert client.post(URL, json=fetching(FHIR_BASE)).status_code == 200


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


BODIES = [
    # (case, raw body, status, words in the message)
    ("deeply nested arrays (100,000 levels)", b'{"hook": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nested"),
    ("nested deeper than the limit", json.dumps(hook_body(extra=nested(100))).encode(), 400, "nested deeper than 64"),
    (
        "an array over the item limit",
        json.dumps(hook_body(extra=[0] * 200_001)).encode(),
        400,
        "more than 200000 items",
    ),
    ("a JSON string", b'"hello"', 400, "JSON object"),
    ("NaN literal", b'{"hook": NaN}', 400, "hook"),
    (
        "duplicate keys, last wins",
        b'{"hook": "order-sign", "hook": "patient-view", "hookInstance": "x", "context": {"userId": "Practitioner/1", "patientId": "p1"}}',
        412,
        "required data",
    ),
]


@pytest.mark.parametrize(("case", "body", "status", "named"), BODIES, ids=[row[0] for row in BODIES])
def test_broken_bodies_get_a_readable_4xx(client: FlaskClient, case: str, body: bytes, status: int, named: str) -> None:
    response = client.post(URL, data=body, content_type="application/json")

    assert response.status_code == status, case
    assert named in response.json["message"]


def test_oversized_body_is_413(client: FlaskClient, app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000

    response = client.post(URL, data=b"{" + b" " * 20_000 + b"}", content_type="application/json")

    assert response.status_code == 413


def test_a_large_real_prefetch_is_accepted(client: FlaskClient) -> None:
    """A week in the ICU: thousands of observations must pass the hardening limits."""
    from tests.fhir_builders import bp, car_t, spo2, temp

    observations = [obs for hour in range(24 * 7) for obs in (temp(hour, 37.2), bp(hour, 118), spo2(hour, 97))]
    prefetch = full_prefetch()
    prefetch["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": o} for o in observations * 4],
    }
    prefetch["medicationAdministrations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": car_t(hours_ago=100)}],
    }

    response = client.post(URL, json=hook_body(prefetch=prefetch))

    assert response.status_code == 200
    assert len(json.dumps(prefetch)) > 800_000  # over 2,000 resources


WRONG_TYPES = [
    ("hook", 1),
    ("hook", None),
    ("hookInstance", ["x"]),
    ("hookInstance", ""),
    ("fhirServer", 42),
    ("fhirAuthorization", "token"),
    ("fhirAuthorization", {"access_token": 5}),
    ("context", []),
    ("context", None),
    ("prefetch", "all of it"),
    ("prefetch", 3),
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES, ids=[f"{f}={v!r}" for f, v in WRONG_TYPES])
def test_wrong_type_in_a_top_level_field_is_400_naming_it(client: FlaskClient, field: str, value: Any) -> None:
    body = hook_body()
    body[field] = value

    response = client.post(URL, json=body)

    assert response.status_code == 400
    assert field in response.json["message"]


CONTEXT_WRONG_TYPES = [
    ("patientId", 12),
    ("patientId", {"id": "p"}),
    ("userId", None),
    ("encounterId", []),
    ("selections", "MedicationRequest/x"),
    ("draftOrders", []),
]


@pytest.mark.parametrize(("field", "value"), CONTEXT_WRONG_TYPES, ids=[f"{f}={v!r}" for f, v in CONTEXT_WRONG_TYPES])
def test_wrong_type_in_a_context_field_is_400_naming_it(client: FlaskClient, field: str, value: Any) -> None:
    body = hook_body("order-select")
    body["context"][field] = value

    response = client.post("/cds-services/crs-order-select", json=body)

    assert response.status_code == 400
    assert f"context.{field}" in response.json["message"]


def slow_response(_request: Any) -> tuple[int, dict[str, str], str]:
    raise requests.exceptions.ReadTimeout("the server is slow")


FHIR_JUNK = [
    ("HTML login page", {"body": "<html><body>Sign in</body></html>", "content_type": "text/html"}),
    (
        "truncated JSON",
        {"body": '{"resourceType": "Bundle", "entry": [{"resou', "content_type": "application/fhir+json"},
    ),
    ("redirect to another host", {"status": 307, "headers": {"Location": "https://attacker.example.net/steal"}}),
    ("gateway timeout", {"status": 504}),
    ("rate limited", {"status": 429}),
]


@pytest.mark.parametrize(("case", "server"), FHIR_JUNK, ids=[row[0] for row in FHIR_JUNK])
@responses.activate
def test_fhir_server_junk_is_412_naming_the_key(client: FlaskClient, case: str, server: dict[str, Any]) -> None:
    responses.get(f"{FHIR_BASE}/Observation", **server)

    response = client.post(URL, json=fetching(FHIR_BASE))

    assert response.status_code == 412, case
    assert response.json["missing"] == ["observations"]
    assert [call.request.url.split("?")[0] for call in responses.calls] == [f"{FHIR_BASE}/Observation"]


@responses.activate
def test_slow_fhir_server_is_412_within_the_deadline(client: FlaskClient) -> None:
    responses.add_callback(responses.GET, f"{FHIR_BASE}/Observation", callback=slow_response)
    started = time.monotonic()

    response = client.post(URL, json=fetching(FHIR_BASE))

    assert response.status_code == 412
    assert "did not answer in time" in response.json["message"]
    assert time.monotonic() - started < 5


@responses.activate
def test_a_10000_entry_page_is_read(client: FlaskClient) -> None:
    entries = [
        {"resource": {"resourceType": "Observation", "id": f"o{n}", "status": "final", "code": {"text": "x"}}}
        for n in range(10_000)
    ]
    responses.get(f"{FHIR_BASE}/Observation", json={"resourceType": "Bundle", "type": "searchset", "entry": entries})

    response = client.post(URL, json=fetching(FHIR_BASE))

    assert response.status_code == 200


def test_no_phi_or_token_in_logs_on_error(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    body = fetching("http://169.254.169.254/")
    body["context"]["patientId"] = PATIENT_ID

    client.post(URL, json=body)

    assert "opaque" not in caplog.text
    assert PATIENT_ID not in caplog.text


@pytest.mark.parametrize("path", ["/cds-services", URL, f"{URL}/feedback"])
def test_S3_preflight_is_answered_without_authentication(app: Flask, path: str) -> None:
    client = FlaskClient(app, app.response_class)

    response = client.options(
        path, headers={"Origin": "https://ehr.example.org", "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 200


def test_S3_cors_only_for_configured_origins(settings: Any) -> None:
    from service.app import create_app

    app = create_app(settings.model_copy(update={"cors_origins": ("https://sandbox.cds-hooks.org",)}))
    client = FlaskClient(app, app.response_class)
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}

    allowed = client.options(URL, headers={"Origin": "https://sandbox.cds-hooks.org", **headers})
    other = client.options(URL, headers={"Origin": "https://attacker.example.net", **headers})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in other.headers


def test_S1_security_headers_on_every_answer(settings: Any) -> None:
    from service.app import create_app

    app = create_app(settings.model_copy(update={"public_base_url": "https://cds.example.org"}))

    response = FlaskClient(app, app.response_class).get("/healthz")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
