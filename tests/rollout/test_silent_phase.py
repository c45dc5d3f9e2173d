"""Silent phase over the synthetic patients: no card reaches the EHR, the report shows what would have."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from flask import Flask

from service.cli import main
from service.storage.call_records import CallRecords
from service.storage.models import CallRecord
from tests.conftest import records_written
from tests.fhir_builders import NOW
from tests.rollout.conftest import AppFactory
from tests.rollout_support import FixtureCall, fixture_call, fixture_rows

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PERIOD = ["--from", NOW.date().isoformat(), "--to", NOW.date().isoformat()]


def calls() -> list[FixtureCall]:
    return [fixture_call(row, NOW, f"silent-{index}") for index, row in enumerate(fixture_rows())]


def post_all(app: Flask) -> list[dict[str, Any]]:
    client = app.test_client()
    answers = []
    for call in calls():
        response = client.post(f"/cds-services/{call.service_id}", json=call.body)
        assert response.status_code == 200, (call.name, response.json)
        answers.append(response.get_json())
    return answers


def records_of_the_day(app: Flask) -> list[CallRecord]:
    records_written()
    return CallRecords(app.extensions["crs_cds"].repository.engine).between(
        NOW.replace(hour=0), NOW + timedelta(hours=1)
    )


def without_uuids(value: Any) -> Any:
    return json.loads(UUID.sub("<uuid>", json.dumps(value)))


def test_a_silent_service_answers_no_cards_and_records_them_in_full(make_app: AppFactory) -> None:
    live = post_all(make_app(silent=()))
    live_cards = [card for answer in live for card in answer["cards"]]
    app = make_app(silent=("all",))

    silent = post_all(app)

    assert len(live_cards) >= 15  # the fixtures produce cards: the silence below is not vacuous
    assert all(answer == {"cards": []} for answer in silent)
    withheld = [card for record in records_of_the_day(app) if record.silent for card in record.withheld_cards]
    assert without_uuids(withheld) == without_uuids(live_cards)


def test_only_the_listed_services_are_silent(make_app: AppFactory) -> None:
    answers = dict(zip([c.service_id for c in calls()], post_all(make_app(silent=("crs-order-sign",))), strict=False))

    assert answers["crs-order-sign"] == {"cards": []}
    assert answers["crs-patient-view"]["cards"]


def test_the_report_shows_the_would_be_cards_by_grade_and_rule(make_app: AppFactory, runner: CliRunner) -> None:
    live = make_app(silent=())
    post_all(live)
    live_records = [r for r in records_of_the_day(live) if r.service_id == "crs-patient-view"]
    expected = Counter(
        (record.service_id, "unknown" if record.grade is None else str(record.grade), rule)
        for record in records_of_the_day(live)
        for card in record.cards
        for rule in card["rules"]
    )
    CallRecords(live.extensions["crs_cds"].repository.engine).purge(NOW.replace(year=NOW.year + 1))
    post_all(make_app(silent=("all",)))
    records_written()

    result = runner.invoke(main, ["report", *PERIOD, "--format", "json"])
    text = runner.invoke(main, ["report", *PERIOD])

    assert result.exit_code == 0, result.output
    silent: Counter[tuple[str, str, str]] = Counter()
    for row in json.loads(result.stdout)["silent_cards"]:
        silent[(row["service"], row["grade"], row["rule"])] += row["cards"]
    assert silent == expected
    assert "Silent phase: cards that would have been shown, by rule and CRS grade" in text.output
    grade3 = sum(1 for record in live_records if record.grade == 3 for _ in record.cards)
    assert grade3 >= 2
    assert re.search(rf"\ncrs-patient-view\s+3\s+{grade3}\s", text.output), text.output
