"""The JSON columns are written by json_text (orjson): every value reads back as it was given, as with json.dumps.

Non-ASCII text, nulls, NaN from a client's feedback, keys that are not strings: each row is written through the
engine as the writer thread writes it, then read back by the ORM and compared with what json.dumps would store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from service.storage.call_records import CallRecords
from service.storage.db import create_database_engine, migrate
from service.storage.repository import CardRecord, HookCall, Repository
from tests.unit.test_storage import feedback_row

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def migrated(tmp_path: Path) -> Engine:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate(engine)
    return engine


def as_stored_by_json_dumps(value: Any) -> Any:
    return json.loads(json.dumps(value))


def call_row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "hook_instance": "h-°",
        "hook": "patient-view",
        "service_id": "crs-patient-view",
        "requested_at": NOW,
        "responded_at": NOW + timedelta(milliseconds=4),
        "total_ms": 4.0,
        "fetch_ms": None,
        "http_status": 200,
        "token_used": False,
        "fetched_keys": [],
        "silent": False,
        "grade": 2,
        "managed_grade": 2,
        "policy_version": "2026.1",
        "withheld_cards": [],
    }
    return row | values


def test_call_record_json_columns_read_back_the_same_values(tmp_path: Path) -> None:
    records = CallRecords(migrated(tmp_path))
    json_values = {
        "resources": {"Observation": {"prefetch": 376, "fetched": 0}, "Médication": {"prefetch": 1, "fetched": 2}},
        "cards": [{"uuid": "u-1", "indicator": "critical", "rules": ["G-GRADE"], "suggestions": 1, "withheld": False}],
        "unrecognised_codes": [
            {"resource_type": "Observation", "system": None, "code": None, "display": "Température ≥ 38 °C", "count": 3}
        ],
    }

    records.add(call_row(**json_values))

    (stored,) = records.between(NOW, NOW + timedelta(seconds=1))
    for column, value in json_values.items():
        assert getattr(stored, column) == as_stored_by_json_dumps(value), column


def test_audit_and_card_rows_read_back_the_same_values(tmp_path: Path) -> None:
    repository = Repository(migrated(tmp_path))
    rules = ["G-GRADE", "R-UNIDENTIFIED", "règle ≥ 2"]
    call = HookCall(NOW, "h", "crs-patient-view", "Patient/p", 2, 2, rules, "2026.1", ["observations"], 1.0, 2.0)

    repository.record_hook_call(call, [CardRecord("card-1", "crs-assessment", "warning", rules, ["s-1"])])

    (audit,) = repository.audit_rows()
    assert (audit.rules, audit.card_uuids, audit.suggestion_uuids) == (rules, ["card-1"], ["s-1"])
    assert audit.fetched_keys == ["observations"]


def test_feedback_raw_keeps_nan_as_json_dumps_stored_it(tmp_path: Path) -> None:
    engine = migrated(tmp_path)
    raw = {"feedback": [{"card": "c-1", "score": float("nan")}], "note": "trop élevé"}
    Repository(engine).record_feedback([feedback_row("c-1", "overridden", "k-1", raw)])

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT raw FROM feedback")).scalar_one()
    assert stored == json.dumps(raw)  # NaN stays NaN (orjson would write null): json.dumps wrote it


def test_the_columns_are_written_by_orjson(tmp_path: Path) -> None:
    engine = migrated(tmp_path)

    CallRecords(engine).add(call_row(fetched_keys=["°C"], resources={}, cards=[], unrecognised_codes=[]))

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT fetched_keys FROM call_record")).scalar_one()
    assert stored == '["°C"]'  # json.dumps wrote '["\\u00b0C"]': the same value, in UTF-8
