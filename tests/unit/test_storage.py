"""Migrations and the feedback report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import inspect

from service.cli import main
from service.storage.db import create_database_engine, current_revision, head_revision, migrate
from service.storage.repository import CardRecord, HookCall, Repository

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_migrations_create_the_tables_and_are_idempotent(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'nested' / 'db.sqlite3'}")

    migrate(engine)
    migrate(engine)

    assert current_revision(engine) == head_revision()
    assert {"audit", "issued_card", "feedback", "jwt_replay", "call_record", "smart_session"} <= set(
        inspect(engine).get_table_names()
    )


def test_db_upgrade_command(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"

    result = runner.invoke(main, ["db", "upgrade"], env={"CRS_CDS_DATABASE_URL": url})

    assert result.exit_code == 0, result.output
    assert f"database at revision {head_revision()}" in result.output


def issue(repository: Repository, card_uuid: str, kind: str, rules: list[str]) -> None:
    call = HookCall(NOW, "h", "crs-patient-view", "Patient/p", 2, 2, rules, "2026.1", [], 1.0, 2.0)
    repository.record_hook_call(call, [CardRecord(card_uuid, kind, "warning", rules, [])])


def feedback(repository: Repository, card_uuid: str, outcome: str, key: str) -> None:
    repository.record_feedback([feedback_row(card_uuid, outcome, key)])


def feedback_row(card_uuid: str, outcome: str, key: str, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "received_at": NOW,
        "service_id": "crs-patient-view",
        "card_uuid": card_uuid,
        "outcome": outcome,
        "outcome_timestamp": None,
        "accepted_suggestions": [],
        "override_system": None,
        "override_code": None,
        "override_display": None,
        "user_comment": None,
        "raw": raw or {},
    }


def test_feedback_report_rates_per_card_kind_and_rule(runner: CliRunner, database_url: str) -> None:
    repository = Repository(create_database_engine(database_url))
    issue(repository, "c1", "crs-assessment", ["M-G2-TOCI", "M-TOCI-DOSE"])
    issue(repository, "c2", "crs-assessment", ["M-G2-TOCI"])
    issue(repository, "c3", "crs-assessment", ["M-G3"])
    issue(repository, "c4", "order-check", ["O-GMCSF"])
    feedback(repository, "c1", "accepted", "k1")
    feedback(repository, "c2", "overridden", "k2")
    feedback(repository, "c4", "accepted", "k3")

    rows = {(row.kind, row.rule): (row.issued, row.accepted, row.overridden) for row in repository.report()}
    result = runner.invoke(main, ["feedback-report"])

    assert rows[("crs-assessment", "(all rules)")] == (3, 1, 1)
    assert rows[("crs-assessment", "M-G2-TOCI")] == (2, 1, 1)
    assert rows[("crs-assessment", "M-G3")] == (1, 0, 0)
    assert rows[("order-check", "O-GMCSF")] == (1, 1, 0)
    assert result.exit_code == 0, result.output
    assert "M-G2-TOCI" in result.output
    assert "50.0 %" in result.output


def test_feedback_report_with_no_cards(runner: CliRunner) -> None:
    result = runner.invoke(main, ["feedback-report"])

    assert result.exit_code == 0
    assert "No cards issued yet." in result.output
