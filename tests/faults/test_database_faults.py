"""Database faults (issue 12 item 3): locked, deleted and read-only databases fail fast and honestly."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from service.app import create_app
from service.settings import Settings
from tests.conftest import hook_body, records_written

FEEDBACK = "/cds-services/crs-patient-view/feedback"
CARD = "4e0a3a1e-3283-4575-ab82-028d55fe2719"


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


@contextmanager
def locked(database_url: str) -> Iterator[None]:
    """Another process's write transaction holds the database (as a long migration or a backup would)."""
    connection = sqlite3.connect(sqlite_path(database_url), isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def timed(request: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def auth_off_app(database_url: str) -> Flask:
    return create_app(Settings(auth="off", database_url=database_url, auto_migrate=False))


def test_item3_a_signed_call_is_503_within_a_second_or_so_while_the_replay_store_is_locked(
    client: FlaskClient, database_url: str
) -> None:
    with locked(database_url):
        hook, hook_seconds = timed(lambda: client.post("/cds-services/crs-patient-view", json=hook_body()))
        discovery, discovery_seconds = timed(lambda: client.get("/cds-services"))

    assert (hook.status_code, hook.json["error"]) == (503, "unavailable")
    assert (discovery.status_code, discovery.json["error"]) == (503, "unavailable")
    assert max(hook_seconds, discovery_seconds) < 2.0
    assert client.post("/cds-services/crs-patient-view", json=hook_body()).status_code == 200  # and after


def test_item3_an_unauthenticated_hook_call_answers_with_cards_while_the_audit_cannot_be_written(
    database_url: str,
) -> None:
    client = auth_off_app(database_url).test_client()
    failures_before = REGISTRY.get_sample_value("crs_cds_audit_write_failures_total") or 0.0

    with locked(database_url):
        response, seconds = timed(lambda: client.post("/cds-services/crs-patient-view", json=hook_body()))
        records_written()  # the writer thread meets the lock, gives up after the database timeout, counts

    assert response.status_code == 200
    assert "cards" in response.json
    assert seconds < 2.0
    assert REGISTRY.get_sample_value("crs_cds_audit_write_failures_total") == failures_before + 1


def test_item3_readiness_fails_while_the_database_cannot_take_a_write(database_url: str) -> None:
    client = auth_off_app(database_url).test_client()
    assert client.get("/readyz").status_code == 200

    with locked(database_url):
        response, seconds = timed(lambda: client.get("/readyz"))

    assert response.status_code == 503
    assert response.json["problems"] == ["database cannot take a write"]
    assert seconds < 2.0


def test_item3_readiness_fails_on_a_read_only_database(database_url: str) -> None:
    read_only = f"sqlite:///file:{sqlite_path(database_url)}?mode=ro&uri=true"
    client = auth_off_app(read_only).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503


def test_item3_feedback_is_never_stored_into_a_deleted_database_file(database_url: str) -> None:
    app = auth_off_app(database_url)
    client = app.test_client()
    item = {"card": CARD, "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
    assert client.post(FEEDBACK, json={"feedback": [item]}).json["stored"] == 1  # a pooled connection is open

    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_path(database_url)}{suffix}").unlink(missing_ok=True)
    again = {**item, "outcomeTimestamp": "2026-01-01T00:01:00Z"}
    response = client.post(FEEDBACK, json={"feedback": [again]})

    assert response.status_code == 503
    assert response.json["error"] == "unavailable"
    assert client.get("/readyz").status_code == 503
