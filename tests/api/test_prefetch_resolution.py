"""Prefetch resolution against a FHIR server mocked with `responses` (checklist P1-P3).

Each case states what the EHR sent for a prefetch key, what the FHIR server does, and what the
service must end up with: the resources, a 412 naming the key, or a 400 with no outbound call.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from typing import Any

import pytest
import requests
import responses
import urllib3
from flask import Flask
from responses import matchers

from service.hooks.errors import BadRequest, PreconditionFailed
from service.hooks.models import HookRequest
from service.hooks.prefetch import ResolvedData, resolve
from service.runtime import runtime
from tests.conftest import FHIR_BASE, PATIENT_ID, empty_bundle, full_prefetch, hook_body

TOKEN = "opaque-access-token"
OBS_URL = f"{FHIR_BASE}/Observation"


def observation(obs_id: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": obs_id, "status": "final", "code": {"text": "x"}}


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def request_without(*keys: str, prefetch: dict[str, Any] | None = None) -> HookRequest:
    values = {**full_prefetch(), **(prefetch or {})}
    for key in keys:
        values.pop(key)
    body = hook_body(
        prefetch=values,
        fhirServer=FHIR_BASE,
        fhirAuthorization={
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "x",
            "subject": "s",
        },
    )
    return HookRequest.model_validate(body)


def run_resolve(app: Flask, hook_request: HookRequest) -> ResolvedData:
    with app.app_context():
        state = runtime()
        return resolve(hook_request, state.services["crs-patient-view"], state.fetcher, (FHIR_BASE,))


@responses.activate
def test_absent_key_is_fetched_with_the_bearer_token(app: Flask) -> None:
    responses.get(
        OBS_URL,
        json=searchset(observation("o1")),
        match=[
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
            matchers.query_param_matcher({"patient": PATIENT_ID, "_sort": "-date", "_count": "1000"}),
        ],
    )

    data = run_resolve(app, request_without("observations"))

    assert [r["id"] for r in data.resources("Observation")] == ["o1"]
    assert data.fetched_keys == ("observations",)


@responses.activate
def test_absent_patient_is_read_and_a_404_means_no_patient(app: Flask) -> None:
    responses.get(f"{FHIR_BASE}/Patient/{PATIENT_ID}", status=404, json={"resourceType": "OperationOutcome"})

    data = run_resolve(app, request_without("patient"))

    assert data.resources("Patient") == []


@responses.activate
def test_null_and_empty_bundle_mean_no_data_without_any_fetch(app: Flask) -> None:
    data = run_resolve(app, request_without(prefetch={"observations": None, "medicationRequests": empty_bundle()}))

    assert data.resources("Observation") == []
    assert data.resources("MedicationRequest") == []
    assert len(responses.calls) == 0


@responses.activate
def test_operation_outcome_in_prefetch_is_fetched_instead(app: Flask) -> None:
    responses.get(OBS_URL, json=searchset(observation("o2")))
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}

    data = run_resolve(app, request_without(prefetch={"observations": outcome}))

    assert [r["id"] for r in data.resources("Observation")] == ["o2"]


@responses.activate
def test_search_outcome_entries_are_not_data(app: Flask) -> None:
    bundle = searchset(observation("o3"))
    bundle["entry"].append({"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}})

    data = run_resolve(app, request_without(prefetch={"observations": bundle}))

    assert [r["id"] for r in data.resources("Observation")] == ["o3"]


@responses.activate
def test_pages_are_followed_through_next_links(app: Flask) -> None:
    page2 = f"{FHIR_BASE}/Observation?page=2"
    responses.get(
        OBS_URL,
        json=searchset(observation("p2"), next_url=f"{FHIR_BASE}/Observation?page=3"),
        match=[matchers.query_param_matcher({"page": "2"})],
    )
    responses.get(OBS_URL, json=searchset(observation("p3")), match=[matchers.query_param_matcher({"page": "3"})])
    responses.get(
        OBS_URL,
        json=searchset(observation("p1"), next_url=page2),
        match=[matchers.query_param_matcher({"patient": PATIENT_ID}, strict_match=False)],
    )

    data = run_resolve(app, request_without("observations"))

    assert sorted(r["id"] for r in data.resources("Observation")) == ["p1", "p2", "p3"]
    assert data.incomplete_keys == ()


@responses.activate
def test_a_paginated_prefetch_bundle_is_completed_from_the_server(app: Flask) -> None:
    responses.get(OBS_URL, json=searchset(observation("rest")))
    first_page = searchset(observation("first"), next_url=f"{FHIR_BASE}/Observation?page=2")

    data = run_resolve(app, request_without(prefetch={"observations": first_page}))

    assert sorted(r["id"] for r in data.resources("Observation")) == ["first", "rest"]


@responses.activate
def test_page_cap_stops_paging_and_marks_the_key_incomplete(app: Flask) -> None:
    pages = iter(range(100))

    def endless_pages(_request: Any) -> tuple[int, dict[str, str], str]:
        page = next(pages)
        return 200, {}, json.dumps(searchset(observation(f"o{page}"), next_url=f"{OBS_URL}?page={page + 1}"))

    responses.add_callback(responses.GET, OBS_URL, callback=endless_pages)
    fetcher = app.extensions["crs_cds"].fetcher
    object.__setattr__(fetcher, "_limits", dataclasses.replace(fetcher._limits, max_pages=3))

    data = run_resolve(app, request_without("observations"))

    assert data.incomplete_keys == ("observations",)
    assert len(responses.calls) == 3
    assert sorted(r["id"] for r in data.resources("Observation")) == ["o0", "o1", "o2"]


@responses.activate
def test_next_link_to_another_host_is_not_followed(app: Flask) -> None:
    responses.get(OBS_URL, json=searchset(observation("o1"), next_url="https://elsewhere.example.net/Observation?p=2"))

    data = run_resolve(app, request_without("observations"))

    assert [call.request.url.split("?")[0] for call in responses.calls] == [OBS_URL]
    assert data.incomplete_keys == ("observations",)


def loop_bundle() -> dict[str, Any]:
    return searchset(observation("o"), next_url=f"{FHIR_BASE}/Observation?page=loop")


FAILURES = [
    # (case, what the FHIR server does)
    ("timeout", {"body": requests.exceptions.ReadTimeout("slow")}),
    ("connection refused", {"body": requests.exceptions.ConnectionError("refused")}),
    ("server error 500", {"status": 500, "json": {"resourceType": "OperationOutcome"}}),
    ("unauthorized 401", {"status": 401, "json": {"resourceType": "OperationOutcome"}}),
    ("forbidden 403", {"status": 403}),
    ("HTML instead of JSON", {"status": 200, "body": "<html>login</html>", "content_type": "text/html"}),
    (
        "truncated JSON",
        {"status": 200, "body": '{"resourceType": "Bund', "content_type": "application/fhir+json"},
    ),
    ("JSON that is not a resource", {"status": 200, "json": [1, 2, 3]}),
    ("wrong resource type", {"status": 200, "json": {"resourceType": "Patient", "id": "x"}}),
    ("redirect to another host", {"status": 302, "headers": {"Location": "https://evil.example.net/"}}),
    ("next link loop", {"status": 200, "json": loop_bundle()}),
]


@pytest.mark.parametrize(("case", "server"), FAILURES, ids=[row[0] for row in FAILURES])
@responses.activate
def test_fhir_server_failure_is_412_naming_the_key(app: Flask, case: str, server: dict[str, Any]) -> None:
    responses.get(OBS_URL, **server)

    with pytest.raises(PreconditionFailed) as raised:
        run_resolve(app, request_without("observations"))

    assert raised.value.extra["missing"] == ["observations"], case
    assert "observations" in raised.value.message
    assert TOKEN not in raised.value.message


@responses.activate
def test_412_over_http_names_missing_keys_and_omits_the_token(app: Flask) -> None:
    responses.get(OBS_URL, status=503)
    responses.get(f"{FHIR_BASE}/MedicationAdministration", body=requests.exceptions.ReadTimeout())
    body = request_without("observations", "medicationAdministrations").model_dump(exclude_none=True)

    response = app.test_client().post("/cds-services/crs-patient-view", json=body)

    assert response.status_code == 412
    assert response.json["missing"] == ["medicationAdministrations", "observations"]
    assert TOKEN not in response.get_data(as_text=True)


def test_missing_keys_without_fhir_server_is_412(app: Flask) -> None:
    body = hook_body(prefetch={"patient": None})

    response = app.test_client().post("/cds-services/crs-patient-view", json=body)

    assert response.status_code == 412
    assert response.json["missing"] == ["medicationAdministrations", "medicationRequests", "observations"]


@responses.activate
def test_fhir_server_outside_the_allowlist_is_400_with_no_outbound_call(app: Flask) -> None:
    hook_request = request_without("observations").model_copy(update={"fhirServer": "https://169.254.169.254/latest"})

    with pytest.raises(BadRequest, match="fhirServer is not an allowed"):
        run_resolve(app, hook_request)

    assert len(responses.calls) == 0


def test_missing_keys_are_fetched_in_parallel(app: Flask) -> None:
    """Four queries meet at a barrier: if they ran one after another the first would wait forever."""
    barrier = threading.Barrier(4, timeout=3)

    class MeetingAdapter(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:  # type: ignore[override]
            barrier.wait()
            response = requests.Response()
            response.status_code = 200
            content = b'{"resourceType": "Bundle", "type": "searchset"}'
            if "/Patient/" in str(request.url):
                content = b'{"resourceType": "Patient", "id": "pat-1"}'
            response.raw = urllib3.HTTPResponse(body=io.BytesIO(content), preload_content=False)
            return response

        def close(self) -> None:
            return None

    session = requests.Session()
    session.mount("https://", MeetingAdapter())
    object.__setattr__(app.extensions["crs_cds"].fetcher, "_session", session)

    data = run_resolve(app, request_without(*full_prefetch()))

    assert [r["id"] for r in data.resources("Patient")] == [PATIENT_ID]
    assert len(data.fetched_keys) == 4


@responses.activate
def test_incomplete_paging_is_flagged_on_the_card(app: Flask) -> None:
    from tests.fhir_builders import car_t

    responses.get(OBS_URL, json=searchset(observation("o1"), next_url="https://elsewhere.example.net/Observation?p=2"))
    body = request_without(
        "observations", prefetch={"medicationAdministrations": searchset(car_t(hours_ago=96))}
    ).model_dump(exclude_none=True)

    response = app.test_client().post("/cds-services/crs-patient-view", json=body)

    (card,) = response.json["cards"]
    assert "data-incomplete" in card["extension"]["crs-assessment"]["flags"]
    assert "the oldest data were not read" in card["detail"]
