"""The storage on a real PostgreSQL server: migrations, idempotent feedback, audit, JWT replay, and
concurrent writes from several gunicorn workers (the same tests SQLite passes elsewhere)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from service.storage.call_records import CallRecords
from service.storage.db import can_write, create_database_engine, current_revision, head_revision, migrate
from service.storage.repository import CardRecord, HookCall, Repository
from tests.conftest import hook_body
from tests.integration.conftest import crs_cds_service
from tests.jwt_support import EhrKeys

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(postgres_url: str) -> Iterator[Engine]:
    database = create_database_engine(postgres_url)
    with database.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        connection.commit()
    migrate(database)
    yield database
    database.dispose()


def feedback_row(card: str, key: str) -> dict[str, object]:
    return {
        "dedupe_key": key, "received_at": NOW, "service_id": "crs-patient-view", "card_uuid": card, "outcome": "accepted",
        "outcome_timestamp": None, "accepted_suggestions": ["s1"], "override_system": None, "override_code": None,
        "override_display": None, "user_comment": None, "raw": {"card": card},
    }  # fmt: skip


def test_migrations_run_on_postgresql_and_are_idempotent(engine: Engine) -> None:
    migrate(engine)

    assert current_revision(engine) == head_revision()
    assert {"audit", "issued_card", "feedback", "jwt_replay", "call_record", "smart_session"} <= set(
        inspect(engine).get_table_names()
    )


def test_feedback_is_idempotent_on_postgresql(engine: Engine) -> None:
    repository = Repository(engine)

    first = repository.record_feedback([feedback_row("pg-card-1", "pg-k1"), feedback_row("pg-card-2", "pg-k2")])
    again = repository.record_feedback([feedback_row("pg-card-1", "pg-k1")])

    assert (first, again) == (2, 0)


def test_concurrent_feedback_writes_lose_nothing_and_store_nothing_twice(engine: Engine) -> None:
    repository = Repository(engine)
    rows = [feedback_row(f"pg-par-{n}", f"pg-par-{n}") for n in range(50)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        stored = sum(pool.map(lambda row: repository.record_feedback([row]), rows * 2))

    assert stored == 50
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM feedback WHERE card_uuid LIKE 'pg-par-%'")).scalar() == 50


def test_jwt_replay_is_refused_across_connections(engine: Engine) -> None:
    repository = Repository(engine)
    expires = datetime.now(UTC) + timedelta(minutes=5)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(
            pool.map(lambda _n: repository.first_use("https://ehr.example.org", "same-jti", expires), range(16))
        )

    assert outcomes.count(True) == 1


def test_audit_and_report_on_postgresql(engine: Engine) -> None:
    repository = Repository(engine)
    call = HookCall(
        NOW, "pg-hook", "crs-patient-view", "Patient/p", 3, 3, ["M-G3"], "2026.1", ["observations"], 12.0, 30.0
    )

    repository.record_hook_call(call, [CardRecord("pg-report-card", "crs-assessment", "critical", ["M-G3"], ["s1"])])
    repository.record_feedback([feedback_row("pg-report-card", "pg-report")])

    rows = {(row.kind, row.rule): (row.issued, row.accepted) for row in repository.report()}
    assert rows[("crs-assessment", "M-G3")] == (1, 1)
    assert any(row.hook_instance == "pg-hook" for row in repository.audit_rows())


def test_served_workers_write_to_postgresql_in_parallel(
    engine: Engine, postgres_url: str, clients_file: Path, ehr_keys: EhrKeys
) -> None:
    with crs_cds_service(postgres_url, clients_file, workers=3) as base_url:
        url = f"{base_url}/cds-services/crs-patient-view"

        def call(n: int) -> int:
            headers = {"Authorization": f"Bearer {ehr_keys.sign(url)}"}
            return requests.post(
                url, json=hook_body(hookInstance=f"pg-parallel-{n}"), headers=headers, timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(30)))

    assert statuses == [200] * 30
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT COUNT(DISTINCT hook_instance) FROM audit WHERE hook_instance LIKE 'pg-parallel-%'")
        ).scalar()
    assert count == 30


def test_call_records_round_trip_and_purge_on_postgresql(engine: Engine) -> None:
    records = CallRecords(engine)
    row: dict[str, Any] = {
        "hook_instance": "pg-call", "hook": "patient-view", "service_id": "crs-patient-view",
        "requested_at": NOW - timedelta(days=800), "responded_at": NOW - timedelta(days=800), "total_ms": 4.5,
        "fetch_ms": 1.0, "http_status": 200, "token_used": True, "fetched_keys": ["observations"],
        "resources": {"Observation": {"prefetch": 0, "fetched": 3}}, "silent": True, "grade": 2,
        "managed_grade": 2, "policy_version": "2026.1", "cards": [{"uuid": "u", "rules": ["M-G2-TOCI"]}],
        "withheld_cards": [{"uuid": "u", "summary": "CRS grade 2"}], "unrecognised_codes": [],
    }  # fmt: skip
    records.add(row)

    (stored,) = [r for r in records.between(NOW - timedelta(days=801), NOW) if r.hook_instance == "pg-call"]
    assert (stored.token_used, stored.silent, stored.resources, stored.withheld_cards) == (
        True,
        True,
        row["resources"],
        row["withheld_cards"],
    )
    assert records.purge(NOW - timedelta(days=400))["call_record"] >= 1
    assert [r for r in records.between(NOW - timedelta(days=801), NOW) if r.hook_instance == "pg-call"] == []


def test_json_columns_keep_non_ascii_text_and_nulls_on_postgresql(engine: Engine) -> None:
    """The JSON columns are written by json_text (orjson, UTF-8): the values read back as given."""
    repository = Repository(engine)
    rules = ["G-GRADE", "règle ≥ 38 °C"]
    call = HookCall(NOW, "pg-json", "crs-patient-view", "Patient/p", None, None, rules, "2026.1", [], 1.0, 2.0)

    repository.record_hook_call(call, [CardRecord("pg-json-card", "crs-assessment", "info", rules, [])])

    (audit,) = [row for row in repository.audit_rows() if row.hook_instance == "pg-json"]
    assert (audit.rules, audit.card_uuids) == (rules, ["pg-json-card"])


def test_the_replay_guard_and_readiness_give_up_after_the_lock_timeout(engine: Engine, postgres_url: str) -> None:
    """Issue 12 item 3: a locked replay table costs a signed call about a second (then 503), not 30 s."""
    locker = create_database_engine(postgres_url)
    repository = Repository(engine)
    with locker.connect() as connection:
        connection.execute(text("LOCK TABLE jwt_replay IN ACCESS EXCLUSIVE MODE"))
        release = threading.Timer(5, connection.rollback)  # bounds the test even where nothing times out
        release.start()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            repository.first_use("https://ehr.example.org", "jti-locked", datetime.now(UTC) + timedelta(minutes=5))
        replay_seconds = time.monotonic() - started
        ready = can_write(engine)
        release.cancel()
        connection.rollback()
    locker.dispose()

    assert replay_seconds < 2.0
    assert ready is False
    assert can_write(engine) is True
