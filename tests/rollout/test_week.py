"""The simulated week (tests/rollout_week.py) gives a report with both phases, feedback and fallbacks."""

from __future__ import annotations

import json

from click.testing import CliRunner

from service.cli import main
from tests.conftest import records_written
from tests.rollout_week import FIRST_DAY, SILENT_DAYS, simulate

WEEK = ["--from", FIRST_DAY.isoformat(), "--to", FIRST_DAY.replace(day=FIRST_DAY.day + 6).isoformat()]


def test_a_simulated_week_reports_silent_and_live_days(database_url: str, runner: CliRunner) -> None:
    made = simulate(database_url, seed=15)
    records_written()

    report = json.loads(runner.invoke(main, ["report", *WEEK, "--format", "json"]).output)
    live_only = json.loads(
        runner.invoke(main, ["report", "--from", "2026-11-26", *WEEK[2:], "--format", "json"]).output
    )
    codes = json.loads(runner.invoke(main, ["codes", "report", *WEEK, "--format", "json"]).output)

    services = [row for row in report["rules"] if row["rule"] == "(all rules)"]
    assert sum(row["calls"] for row in services) == made
    assert sum(row["errors"] for row in services) == 7  # one malformed call a day
    assert all(row["silent"] > 0 and row["shown"] > 0 for row in services)
    assert all(row["silent"] == 0 for row in live_only["rules"])  # silent only on the first SILENT_DAYS days
    assert SILENT_DAYS == 3
    assert all(0 < row["acceptance_rate"] < 1 for row in services)
    assert any(row["fhir_fallback_rate"] > 0 for row in services)
    assert report["silent_cards_by_grade"]
    assert [code["code"] for code in codes["codes"]] == ["T-TYMP"]
