"""One record per hook call, whatever its outcome, joined to feedback by the report; purged by age."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from service.cards.override_reasons import HL7_SYSTEM
from service.cli import main
from service.storage import writer
from service.storage.call_records import CallRecords
from service.storage.models import CallRecord
from tests.conftest import FHIR_BASE, hook_body, records_written
from tests.fhir_builders import GRADE3_OBSERVATIONS, NOW, car_t, prefetch
from tests.rollout.conftest import AppFactory

PERIOD = ["--from", NOW.date().isoformat(), "--to", NOW.date().isoformat()]
TOKEN = {"access_token": "opaque-token-value", "token_type": "Bearer", "expires_in": 300, "scope": "x", "subject": "s"}


def grade3_body(instance: str = "call-1") -> dict[str, Any]:
    return hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]), hookInstance=instance)


def lost_call_records() -> float:
    return REGISTRY.get_sample_value("crs_cds_record_write_failures_total", {"kind": "call_record"}) or 0.0


def records(app: Flask) -> list[CallRecord]:
    records_written()
    engine = app.extensions["crs_cds"].repository.engine
    return CallRecords(engine).between(NOW - timedelta(days=1000), NOW + timedelta(days=1))


def test_a_call_is_recorded_with_its_resources_cards_and_times(app: Flask, client: FlaskClient) -> None:
    cards = client.post("/cds-services/crs-patient-view", json=grade3_body()).json["cards"]

    (record,) = records(app)
    assert (record.hook_instance, record.hook, record.service_id, record.http_status) == (
        "call-1",
        "patient-view",
        "crs-patient-view",
        200,
    )
    assert record.resources["Observation"] == {"prefetch": len(GRADE3_OBSERVATIONS), "fetched": 0}
    assert record.resources["MedicationAdministration"] == {"prefetch": 1, "fetched": 0}
    assert (record.token_used, record.fetched_keys, record.silent, record.grade) == (False, [], False, 3)
    assert [card["uuid"] for card in record.cards] == [card["uuid"] for card in cards]
    assert "M-G3" in record.cards[0]["rules"]
    assert record.cards[0]["withheld"] is False
    assert record.withheld_cards == []
    assert record.total_ms >= (record.fetch_ms or 0) >= 0
    assert record.responded_at >= record.requested_at


def test_resources_fetched_with_the_token_are_told_apart_from_prefetch(app: Flask, client: FlaskClient) -> None:
    body = grade3_body()
    observations = body["prefetch"].pop("observations")
    body |= {"fhirServer": FHIR_BASE, "fhirAuthorization": TOKEN}
    with responses.RequestsMock() as fhir:
        fhir.add(responses.GET, f"{FHIR_BASE}/Observation", json=observations)
        assert client.post("/cds-services/crs-patient-view", json=body).status_code == 200

    (record,) = records(app)
    assert record.resources["Observation"] == {"prefetch": 0, "fetched": len(GRADE3_OBSERVATIONS)}
    assert (record.token_used, record.fetched_keys) == (True, ["observations"])


@pytest.mark.parametrize(
    ("case", "path", "body", "status"),
    [
        ("invalid body", "/cds-services/crs-patient-view", {"hook": "patient-view"}, 400),
        ("unknown service", "/cds-services/no-such-service", {"hook": "patient-view"}, 404),
        ("data missing", "/cds-services/crs-patient-view", hook_body(prefetch={}), 412),
    ],
)
def test_a_failed_call_is_recorded_with_its_status(
    app: Flask, client: FlaskClient, case: str, path: str, body: dict[str, Any], status: int
) -> None:
    assert client.post(path, json=body).status_code == status, case

    (record,) = records(app)
    assert (record.http_status, record.service_id, record.cards) == (status, path.rsplit("/", 1)[1], [])


def test_a_refused_caller_is_recorded_as_401(app: Flask) -> None:
    unsigned = FlaskClient(app)

    assert unsigned.post("/cds-services/crs-patient-view", json=grade3_body()).status_code == 401

    (record,) = records(app)
    assert (record.http_status, record.service_id) == (401, "crs-patient-view")


def test_a_database_failure_does_not_change_the_answer(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(writer, "write_rows", fail)
    lost_before = lost_call_records()

    response = client.post("/cds-services/crs-patient-view", json=grade3_body())

    assert response.status_code == 200
    assert len(response.json["cards"]) == 1
    records_written()
    assert lost_call_records() == lost_before + 1


def test_the_report_joins_feedback_with_rates_and_reasons(client: FlaskClient, runner: CliRunner) -> None:
    uuids = [
        client.post("/cds-services/crs-patient-view", json=grade3_body(f"c{i}")).json["cards"][0]["uuid"]
        for i in range(4)
    ]
    reason = {"system": HL7_SYSTEM, "code": "recipient-disagrees-evidence", "display": "Disagrees with evidence"}
    feedback = [
        {"card": uuids[0], "outcome": "accepted", "outcomeTimestamp": "2026-11-20T12:01:00Z"},
        {"card": uuids[1], "outcome": "overridden", "overrideReason": {"reason": reason}},
        {"card": uuids[2], "outcome": "overridden"},
    ]
    assert client.post("/cds-services/crs-patient-view/feedback", json={"feedback": feedback}).status_code == 200
    records_written()

    report = json.loads(runner.invoke(main, ["report", *PERIOD, "--format", "json"]).output)
    table = runner.invoke(main, ["report", *PERIOD]).output
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, ["report", *PERIOD, "--format", "csv"]).output)))

    service = next(row for row in report["rules"] if row["rule"] == "(all rules)")
    assert (service["calls"], service["shown"], service["accepted"], service["overridden"]) == (4, 4, 1, 2)
    assert (service["acceptance_rate"], service["override_rate"], service["fhir_fallback_rate"]) == (0.25, 0.5, 0.0)
    assert service["p95_ms"] >= service["median_ms"] > 0
    reasons = {r["reason"]: r["count"] for r in report["override_reasons"] if r["rule"] == "M-G3"}
    assert reasons == {"Disagrees with evidence [recipient-disagrees-evidence]": 1, "(no reason given)": 1}
    assert "Override reasons" in table
    assert "50.0 %" in table
    assert {row["rule"] for row in rows} >= {"(all rules)", "M-G3"}
    assert rows[0]["acceptance_rate"] == "0.25"


def test_report_of_an_empty_period_and_bad_dates(runner: CliRunner) -> None:
    empty = runner.invoke(main, ["report", "--from", "2020-01-01", "--to", "2020-01-02"])
    bad = runner.invoke(main, ["report", "--from", "last week"])
    backwards = runner.invoke(main, ["report", "--from", "2020-01-02", "--to", "2020-01-01"])

    assert "No hook calls in this period." in empty.output
    assert bad.exit_code == 2
    assert "not an ISO 8601 date" in bad.output
    assert backwards.exit_code == 2


def test_purge_deletes_what_is_older_than_the_retention(make_app: AppFactory, runner: CliRunner) -> None:
    old = make_app(now=NOW - timedelta(days=500))
    old.test_client().post("/cds-services/crs-patient-view", json=grade3_body("old"))
    recent = make_app()
    recent.test_client().post("/cds-services/crs-patient-view", json=grade3_body("recent"))
    records_written()

    dry = runner.invoke(main, ["purge", "--dry-run"], env={"CRS_CDS_RETENTION_DAYS": "400"})
    done = runner.invoke(main, ["purge"], env={"CRS_CDS_RETENTION_DAYS": "400"})

    assert "would delete" in dry.output
    assert "call_record         1" in dry.output
    assert "audit               1" in done.output
    assert [record.hook_instance for record in records(recent)] == ["recent"]
    assert [row.hook_instance for row in recent.extensions["crs_cds"].repository.audit_rows()] == ["recent"]


def test_a_failed_call_is_answered_when_its_record_cannot_be_written(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: object) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(writer, "write_rows", fail)
    lost_before = lost_call_records()

    response = client.post("/cds-services/crs-patient-view", json={"hook": "patient-view"})

    assert response.status_code == 400
    assert response.json["error"]
    records_written()
    assert lost_call_records() == lost_before + 1


@pytest.mark.parametrize("command", [["report"], ["codes", "report"], ["purge"]])
def test_commands_on_a_database_without_the_tables_say_what_to_do(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    result = runner.invoke(main, command, env={"CRS_CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})

    assert result.exit_code == 1
    assert "the database cannot be used: OperationalError (run `crs-cds db upgrade`)" in result.output
    assert "Traceback" not in result.output


def test_the_start_up_log_says_which_services_are_silent(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service.hooks.calls"):
        make_app(silent=("crs-order-sign",))

    assert "silent services (cards recorded, not shown): crs-order-sign" in caplog.text
