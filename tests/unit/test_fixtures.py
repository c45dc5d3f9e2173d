"""The synthetic patients: current with their factory, valid FHIR R4, shifted to now at load time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from fhir.resources.R4B.bundle import Bundle

from service.fixtures import (
    FIXTURES_DIR,
    FixtureLoader,
    FixtureLoadError,
    fixture_paths,
    read_fixture,
    resources_of,
    shifted,
)
from tests.fixture_factory import write_fixtures

FIXTURES = fixture_paths()


def test_there_are_at_least_20_patients() -> None:
    assert len(FIXTURES) >= 20


def test_committed_fixtures_are_what_the_factory_builds(tmp_path: Path) -> None:
    out = tmp_path / "fixtures"
    write_fixtures(out)

    built = {p.relative_to(out): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(FIXTURES_DIR): p.read_text(encoding="utf-8") for p in FIXTURES_DIR.rglob("*") if p.is_file()
    }
    assert built == committed, "run `python -m tests.fixture_factory` and review the diff"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_is_a_valid_fhir_r4_transaction(path: Path) -> None:
    bundle = read_fixture(path)

    Bundle.model_validate(bundle)
    assert bundle["type"] == "transaction"
    assert all(entry["request"]["method"] == "PUT" for entry in bundle["entry"])
    assert sum(1 for r in resources_of(bundle) if r["resourceType"] == "Patient") == 1


def test_draft_orders_are_valid_medication_requests() -> None:
    for path in (FIXTURES_DIR / "drafts").glob("*.json"):
        Bundle.model_validate(json.loads(path.read_text()))


def test_shift_moves_every_date_time_but_not_birth_dates() -> None:
    bundle = read_fixture(FIXTURES_DIR / "grade3-norepinephrine.json")
    now = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)

    moved = shifted(bundle, now)

    assert moved["timestamp"] == "2027-01-01T08:00:00Z"
    patient = next(r for r in resources_of(moved) if r["resourceType"] == "Patient")
    assert patient["birthDate"] == "1968-03-14"
    infusion = next(
        r for r in resources_of(moved) if r["resourceType"] == "MedicationAdministration" and "effectivePeriod" in r
    )
    assert infusion["effectivePeriod"]["start"] == "2027-01-01T03:00:00Z"  # 5 h before the anchor, still 5 h before now
    assert read_fixture(FIXTURES_DIR / "grade3-norepinephrine.json") == bundle  # the file itself is untouched


def test_shifted_fixture_assesses_the_same_at_any_time() -> None:
    from service.crs.engine import assess
    from tests.fhir_builders import POLICY, TRANSLATOR

    bundle = read_fixture(FIXTURES_DIR / "grade2-hypotension.json")
    later = datetime(2030, 6, 1, 0, 0, tzinfo=UTC)

    anchor_result = assess(
        TRANSLATOR.timeline(list(resources_of(bundle))), POLICY, datetime(2026, 11, 20, 12, tzinfo=UTC)
    )
    later_result = assess(TRANSLATOR.timeline(list(resources_of(shifted(bundle, later)))), POLICY, later)

    assert (anchor_result.grade, anchor_result.recommended) == (later_result.grade, later_result.recommended)


BASE = "https://sandbox.example.org/fhir"


@responses.activate
def test_loader_falls_back_to_batch_when_transactions_are_refused() -> None:
    responses.post(
        BASE, status=405, match=[responses.matchers.json_params_matcher({"type": "transaction"}, strict_match=False)]
    )
    responses.post(
        BASE, json={"resourceType": "Bundle", "type": "batch-response", "entry": [{"response": {"status": "201"}}]}
    )

    result = FixtureLoader(BASE, "t").load(FIXTURES[0], datetime.now(UTC))

    assert result.method == "batch"
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t"


@responses.activate
def test_loader_falls_back_to_puts_and_reports_a_refusal() -> None:
    responses.post(BASE, status=501)
    path = FIXTURES[0]
    for resource in resources_of(read_fixture(path)):
        responses.put(f"{BASE}/{resource['resourceType']}/{resource['id']}", status=201, json=resource)

    assert FixtureLoader(BASE).load(path, datetime.now(UTC)).method == "put"

    responses.replace(
        responses.PUT,
        f"{BASE}/Patient/{next(r for r in resources_of(read_fixture(path)))['id']}",
        status=422,
        body="invalid",
    )
    with pytest.raises(FixtureLoadError, match=r"PUT Patient/.* answered HTTP 422"):
        FixtureLoader(BASE).load(path, datetime.now(UTC) + timedelta(hours=1))


def test_index_lists_every_fixture() -> None:
    index: list[dict[str, Any]] = json.loads((FIXTURES_DIR / "index.json").read_text())

    assert sorted(row["fixture"] for row in index) == sorted(p.name for p in FIXTURES)
