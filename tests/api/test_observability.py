"""Metrics at /metrics and JSON logs: a request id, the hookInstance, and never PHI or a token."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from service.logs import JsonFormatter, hook_instance_var, request_id_var
from tests.conftest import PATIENT_ID, hook_body
from tests.fhir_builders import GRADE3_OBSERVATIONS, car_t, prefetch


def samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_grades_and_cards(client: FlaskClient, call_hook: Callable[..., Any]) -> None:
    before = samples(client)

    call_hook(hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)])))

    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("crs_cds_requests_total", endpoint="crs-patient-view", status="200") == 1
    assert grew("crs_cds_grade_total", grade="3") == 1
    assert grew("crs_cds_cards_total", kind="crs-assessment", indicator="critical") == 1
    assert grew("crs_cds_request_seconds_count", endpoint="crs-patient-view") == 1


def test_metrics_need_no_jwt_and_carry_no_patient_id(client: FlaskClient, call_hook: Callable[..., Any]) -> None:
    call_hook(hook_body())

    response = client.get("/metrics", headers={"Authorization": ""})

    assert response.status_code == 200
    assert PATIENT_ID not in response.get_data(as_text=True)


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    made = client.get("/healthz")

    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32


def test_json_log_line_has_request_id_and_hook_instance_without_phi() -> None:
    request_id_var.set("req-1")
    hook_instance_var.set("hook-9")
    record = logging.LogRecord("crs_cds.access", logging.INFO, __file__, 1, "request", None, None)
    record.http = {"method": "POST", "endpoint": "crs-patient-view", "status": 200, "ms": 12.5}

    line = json.loads(JsonFormatter().format(record))

    assert (line["request_id"], line["hook_instance"], line["level"]) == ("req-1", "hook-9", "INFO")
    assert line["http"]["endpoint"] == "crs-patient-view"


def test_json_log_line_is_ascii_and_reads_back_every_field() -> None:
    request_id_var.set("req-2")
    hook_instance_var.set("höök-°C")
    record = logging.LogRecord("crs_cds.access", logging.INFO, __file__, 1, "request %s", ("ünï",), None)
    record.created = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC).timestamp()
    record.http = {"method": "POST", "endpoint": "crs-patient-view", "status": 200, "ms": 4.25}

    text = JsonFormatter().format(record)

    assert text.isascii()  # written unchanged on a stream of any encoding, as json.dumps's lines were
    assert json.loads(text) == {
        "time": "2026-11-20T12:00:00.123Z",
        "level": "INFO",
        "logger": "crs_cds.access",
        "message": "request ünï",
        "request_id": "req-2",
        "hook_instance": "höök-°C",
        "http": {"method": "POST", "endpoint": "crs-patient-view", "status": 200, "ms": 4.25},
    }


def test_access_log_lines_carry_no_token_or_patient(
    client: FlaskClient, call_hook: Callable[..., Any], caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    body = hook_body()
    body["fhirAuthorization"] = {"access_token": "very-secret-token", "token_type": "Bearer"}
    body["fhirServer"] = "https://fhir.example.org/r4"

    call_hook(body)

    assert "very-secret-token" not in caplog.text
    assert PATIENT_ID not in caplog.text
    assert any(getattr(r, "http", {}).get("endpoint") == "crs-patient-view" for r in caplog.records)
