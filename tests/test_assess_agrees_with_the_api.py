"""`crs-cds assess` and the HTTP API give every fixture patient the same assessment (issue 10: they agree)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from service.cli import main
from service.fixtures import FIXTURES_DIR
from tests.fhir_builders import NOW
from tests.rollout_support import fixture_call, fixture_rows

ROWS = [row for row in fixture_rows() if row["hook"] == "patient-view"]


@pytest.mark.parametrize("row", ROWS, ids=[row["fixture"].removesuffix(".json") for row in ROWS])
def test_assess_and_the_patient_view_card_agree(
    runner: CliRunner, call_hook: Callable[..., Any], row: dict[str, Any]
) -> None:
    printed = runner.invoke(main, ["assess", str(FIXTURES_DIR / row["fixture"]), "--now", NOW.isoformat()])
    assert printed.exit_code == 0, printed.output
    cli = json.loads(printed.output)
    call = fixture_call(row, NOW, "5d7c1f0e-1d2a-4a43-9d39-5f2f4b7d7c11")

    cards = call_hook(call.body, call.service_id).json["cards"]

    if not cli["in_scope"]:
        assert cards == []
        return
    api = cards[0]["extension"]["crs-assessment"]
    assert api.get("grade") == cli["grade"]
    assert api.get("possibleGrade") == cli["possible_grade"]
    assert api.get("managedAsGrade") == cli["managed_grade"]
    assert api["rules"] == cli["rules"]
    assert api.get("flags", []) == cli["flags"]
