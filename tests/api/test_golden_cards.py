"""Golden cases: each row is a chart, a hook and what the clinician sees (cards, indicators, suggestions).

The row states the expectation in clinical terms; the whole response is also compared, as parsed JSON with
card uuids normalised and the builders' resource ids numbered per case, with ``tests/golden/<case>.response.json``
(the request it answers is ``<case>.request.json``; ``tests/golden/README.md`` tables them). A changed expected
card is a clinical change: regenerate with ``make golden`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cds_contract import nulls_in
from tests.golden_cases import CASES, Case, request_for

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BUILDER_ID = re.compile(r"\b(obs|ma|mr)-\d+\b")
UPDATE = os.environ.get("CRS_CDS_UPDATE_GOLDEN") == "1"


def builder_ids(request: dict[str, Any]) -> dict[str, str]:
    """The test builders' ids (a global counter) renumbered by first appearance, so that the request file is
    the same whatever ran before and can be replayed as it is (distinct resources keep distinct ids)."""
    found = dict.fromkeys(match.group(0) for match in BUILDER_ID.finditer(json.dumps(request, sort_keys=True)))
    return {old: f"{old.split('-')[0]}-{number}" for number, old in enumerate(found, start=1)}


def normalised(body: dict[str, Any], ids: dict[str, str], uuids: bool = True) -> Any:
    text = json.dumps(body, sort_keys=True)
    text = UUID.sub("<uuid>", text) if uuids else text
    return json.loads(BUILDER_ID.sub(lambda m: ids.get(m.group(0), m.group(0)), text))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_cards(call_hook: Callable[..., Any], case: Case) -> None:
    request = request_for(case)
    response = call_hook(request)

    assert response.status_code == 200
    ids = builder_ids(request)
    compare_with_golden(f"{case.name}.request.json", normalised(request, ids, uuids=False))
    compare_with_golden(f"{case.name}.response.json", normalised(response.json, ids))
    cards = response.json["cards"]
    seen = [(c["summary"], c["indicator"], [s["label"] for s in c.get("suggestions", [])]) for c in cards]
    assert len(seen) == len(case.cards), seen
    for (summary, indicator, labels), (start, expected_indicator, expected_labels) in zip(
        seen, case.cards, strict=True
    ):
        assert summary.startswith(start), summary
        assert indicator == expected_indicator
        assert labels == expected_labels


def test_golden_readme_tables_every_case() -> None:
    """One README table: Description | Request | Expected response, in the order of the cases."""
    compare_text(GOLDEN / "README.md", readme())


def readme() -> str:
    rows = [
        f"| {case.description} | [{case.name}.request.json]({case.name}.request.json) | "
        f"[{case.name}.response.json]({case.name}.response.json): {expected(case)} |"
        for case in CASES
    ]
    return "\n".join(
        [
            "# Golden cases",
            "",
            "Each case is a CDS Hooks request and the response the service must give, compared in full (card uuids",
            "normalised; resource ids numbered per case, so a request can be replayed as it is) by",
            "`tests/api/test_golden_cards.py`. The time of every request is 2026-11-20 12:00 UTC. A changed expected",
            "response is a clinical change: regenerate every pair and this table with `make golden`, then review",
            "the diff.",
            "",
            "| Description | Request | Expected response |",
            "| --- | --- | --- |",
            *rows,
            "",
        ]
    )


def expected(case: Case) -> str:
    if not case.cards:
        return "no card"
    return "; ".join(
        f"{indicator} \u201c{summary}\u2026\u201d" + (f" [{', '.join(labels)}]" if labels else "")
        for summary, indicator, labels in case.cards
    )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_M_CARD_LAYOUT_no_null_anywhere_in_a_response(case: Case) -> None:
    """CDS Hooks: JSON elements SHALL NOT be null; an unknown value is an absent key."""
    path = GOLDEN / f"{case.name}.response.json"
    assert nulls_in(json.loads(path.read_text(encoding="utf-8"))) == []


def test_every_golden_file_belongs_to_a_case() -> None:
    names = {f"{case.name}.{part}.json" for case in CASES for part in ("request", "response")}
    assert {path.name for path in GOLDEN.glob("*.json")} == names


def compare_with_golden(name: str, actual: Any) -> None:
    compare_text(GOLDEN / name, json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def compare_text(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run `make golden` and review it"
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs: run `make golden` and review the diff"
