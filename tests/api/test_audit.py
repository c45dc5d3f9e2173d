"""Every hook call writes an audit row and its cards (architecture.md "Data flow" step 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from service.storage import writer
from tests.conftest import hook_body, records_written
from tests.fhir_builders import GRADE3_OBSERVATIONS, car_t, prefetch


def test_hook_call_writes_one_audit_row_with_its_cards(call_hook: Callable[..., Any], app: Flask) -> None:
    body = hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]), hookInstance="hook-instance-1")

    cards = call_hook(body).json["cards"]
    records_written()

    (row,) = app.extensions["crs_cds"].repository.audit_rows()
    assert (row.hook_instance, row.service_id, row.patient_ref) == (
        "hook-instance-1",
        "crs-patient-view",
        "Patient/pat-1",
    )
    assert (row.grade, row.managed_grade, row.policy_version) == (3, 3, "2026.1")
    assert "M-G3" in row.rules
    assert row.card_uuids == [card["uuid"] for card in cards]
    assert row.suggestion_uuids == [s["uuid"] for card in cards for s in card["suggestions"]]
    assert row.total_ms >= row.fetch_ms >= 0


def test_audit_never_stores_the_access_token(call_hook: Callable[..., Any], app: Flask) -> None:
    body = hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]))
    body["fhirServer"] = "https://fhir.example.org/r4"
    body["fhirAuthorization"] = {"access_token": "secret-token-value", "token_type": "Bearer"}

    call_hook(body)
    records_written()

    engine = app.extensions["crs_cds"].repository.engine
    engine.dispose()
    assert b"secret-token-value" not in Path(str(engine.url.database)).read_bytes()


def test_audit_failure_still_answers_with_cards(
    call_hook: Callable[..., Any], app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(writer, "write_rows", fail)
    failures_before = REGISTRY.get_sample_value("crs_cds_audit_write_failures_total") or 0.0

    response = call_hook(hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)])))

    assert response.status_code == 200
    assert len(response.json["cards"]) == 1
    records_written()
    assert REGISTRY.get_sample_value("crs_cds_audit_write_failures_total") == failures_before + 1
    assert app.extensions["crs_cds"].repository.audit_rows() == []
