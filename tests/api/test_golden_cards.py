"""Golden cases: each row is a chart, a hook and what the clinician sees (cards, indicators, suggestions).

The row states the expectation in clinical terms; the whole response is also compared, as parsed JSON
with uuids and resource ids normalised, with ``tests/golden/<case>.json``. A changed expected card is a
clinical change: regenerate with ``CRS_CDS_UPDATE_GOLDEN=1 make test`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import hook_body
from tests.fhir_builders import (
    baseline_panel,
    bp,
    car_t,
    device,
    given,
    icans,
    lab,
    order,
    patient,
    spo2,
    temp,
    weight,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BUILDER_ID = re.compile(r"\b(obs|ma|mr)-\d+\b")
Resource = dict[str, Any]


@dataclass
class Case:
    name: str
    hook: str
    chart: list[Resource]
    cards: list[tuple[str, str, list[str]]]  # (summary starts with, indicator, suggestion labels)
    drafts: list[Resource] = field(default_factory=list)
    selected: int | None = None  # order-select: index of the selected draft


def after(product: str = "tisagenlecleucel", kg: float | None = 70, *items: Resource) -> list[Resource]:
    base = [patient(), car_t(product, hours_ago=96), *baseline_panel(24, 96), lab("crp", 40), lab("ferritin", 900)]
    return [*base, *([weight(kg)] if kg else []), *items]


def vitals(temp_c: float = 38.6, systolic: float = 120, o2: str = "room air") -> list[Resource]:
    return [temp(1, temp_c), bp(1, systolic), spo2(1, 95), device(1, o2)]


def draft(drug: str, dose: tuple[float, str] | None = None, every_hours: float | None = None) -> Resource:
    return order(drug, status="draft", dose=dose, every_hours=every_hours)


def unlisted_code(hours_ago: float) -> Resource:
    resource = given("x", hours_ago, dose=(560, "mg"))
    resource["medicationCodeableConcept"] = {
        "coding": [{"system": "urn:oid:1.2.3", "code": "T-400", "display": "TCZ 400"}]
    }
    return resource


CASES = [
    Case("out-of-scope", "patient-view", [patient(), *vitals()], []),
    Case(
        "fever-unknown-grade-4-if-febrile",
        "patient-view",
        after(
            "tisagenlecleucel",
            70,
            bp(1, 100),
            device(1, "mechanical ventilator"),
            given("norepinephrine", 5, running=True),
            given("epinephrine", 3, running=True),
        ),
        [("CRS grade 0, or 4 if febrile: measure temperature now", "critical", [])],
    ),
    Case(
        "unidentified-medications",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(systolic=85), *(unlisted_code(h) for h in (20, 12, 3))),
        [("CRS grade 2 (ASTCT); 1 order suggested", "warning", ["Order tocilizumab"])],
    ),
    Case(
        "icans-alone",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(temp_c=37), icans(2, 3)),
        [("CRS grade 0 (ASTCT); ICANS grade 3: follow the ICANS protocol", "critical", [])],
    ),
    Case(
        "grade-0",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(temp_c=37)),
        [("CRS grade 0 (ASTCT)", "info", [])],
    ),
    Case("grade-1", "patient-view", after("tisagenlecleucel", 70, *vitals()), [("CRS grade 1 (ASTCT)", "info", [])]),
    Case(
        "grade-2-tocilizumab",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(systolic=85)),
        [("CRS grade 2 (ASTCT); 1 order suggested", "warning", ["Order tocilizumab"])],
    ),
    Case(
        "grade-2-no-weight",
        "patient-view",
        after("tisagenlecleucel", None, *vitals(systolic=85)),
        [("CRS grade 2 (ASTCT); 1 order suggested", "warning", ["Order tocilizumab"])],
    ),
    Case(
        "grade-3-vasopressor",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(), given("norepinephrine", 4, running=True)),
        [("CRS grade 3 (ASTCT); 2 orders suggested", "critical", ["Order dexamethasone", "Order tocilizumab"])],
    ),
    Case(
        "grade-4-methylprednisolone",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(o2="BiPAP mask"), given("norepinephrine", 4, running=True)),
        [("CRS grade 4 (ASTCT); 2 orders suggested", "critical", ["Order methylprednisolone", "Order tocilizumab"])],
    ),
    Case(
        "hlh-suspicion",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(), lab("ferritin", 18000), lab("ast", 450)),
        [
            (
                "CRS grade 1 (ASTCT): manage as grade 3; 2 orders suggested",
                "critical",
                ["Order dexamethasone", "Order tocilizumab"],
            ),
            ("Suspected HLH/MAS", "critical", []),
        ],
    ),
    Case(
        "icans-veto",
        "patient-view",
        after("tisagenlecleucel", 70, *vitals(), icans(1, 2)),
        # M-INDICATOR: at least warning with an M-ICANS steroid, on the CRS card too (reading: the higher one).
        [
            ("CRS grade 1 (ASTCT)", "warning", []),
            ("ICANS grade 2 with CRS grade 1: corticosteroids", "warning", ["Order dexamethasone"]),
        ],
    ),
    Case(
        "tocilizumab-limit",
        "patient-view",
        after(
            "tisagenlecleucel",
            70,
            *vitals(systolic=85),
            given("tocilizumab", 23),
            given("tocilizumab", 15),
            given("tocilizumab", 8.5),
        ),
        [("CRS grade 2 (ASTCT)", "warning", [])],
    ),
    Case(
        "order-select-gm-csf",
        "order-select",
        after("tisagenlecleucel", 70, *vitals()),
        [("GM-CSF (sargramostim) is contraindicated", "critical", ["Remove this order"])],
        drafts=[draft("sargramostim"), draft("ondansetron", (4, "mg"))],
        selected=0,
    ),
    Case(
        "order-select-tocilizumab-overdose",
        "order-select",
        after("tisagenlecleucel", 70, *vitals(systolic=85)),
        [("Tocilizumab 1000 mg is above the protocol dose", "warning", ["Change to tocilizumab 560 mg IV"])],
        drafts=[draft("tocilizumab", (1000, "mg"))],
        selected=0,
    ),
    Case(
        "order-sign-grade-3-low-dexamethasone",
        "order-sign",
        after("tisagenlecleucel", 70, *vitals(), given("norepinephrine", 4, running=True)),
        [("Below the protocol regimen for managed grade 3", "info", ["Change to dexamethasone 10 mg IV every 6 h"])],
        drafts=[draft("dexamethasone", (4, "mg"), every_hours=12), draft("ondansetron", (4, "mg"))],
    ),
    Case(
        "order-sign-car-t-premedication",
        "order-sign",
        [patient(), *vitals(temp_c=37), order("tisagenlecleucel")],
        [
            ("Do not give routine corticosteroid premedication", "warning", []),
            ("CAR T-cell infusion: do not use leukapheresis", "info", []),
        ],
        drafts=[draft("dexamethasone", (10, "mg")), draft("Kymriah (tisagenlecleucel)")],
    ),
]


def request_for(case: Case) -> dict[str, Any]:
    prefetch = {
        "patient": next(r for r in case.chart if r["resourceType"] == "Patient"),
        "observations": searchset([r for r in case.chart if r["resourceType"] == "Observation"]),
        "medicationAdministrations": searchset(
            [r for r in case.chart if r["resourceType"] == "MedicationAdministration"]
        ),
        "medicationRequests": searchset([r for r in case.chart if r["resourceType"] == "MedicationRequest"]),
    }
    body = hook_body(case.hook, prefetch=prefetch)
    if case.drafts:
        body["context"]["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in case.drafts],
        }
    if case.hook == "order-select":
        body["context"]["selections"] = [f"MedicationRequest/{case.drafts[case.selected or 0]['id']}"]
    return body


def searchset(resources: list[Resource]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def normalised(body: dict[str, Any]) -> Any:
    text = UUID.sub("<uuid>", json.dumps(body, sort_keys=True))
    return json.loads(BUILDER_ID.sub(lambda m: f"{m.group(1)}-<id>", text))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_cards(call_hook: Callable[..., Any], case: Case) -> None:
    response = call_hook(request_for(case))

    assert response.status_code == 200
    cards = response.json["cards"]
    seen = [(c["summary"], c["indicator"], [s["label"] for s in c.get("suggestions", [])]) for c in cards]
    assert len(seen) == len(case.cards), seen
    for (summary, indicator, labels), (start, expected_indicator, expected_labels) in zip(
        seen, case.cards, strict=True
    ):
        assert summary.startswith(start), summary
        assert indicator == expected_indicator
        assert labels == expected_labels
    compare_with_golden(case.name, normalised(response.json))


def nulls_in(value: Any, where: str = "") -> list[str]:
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in nulls_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in nulls_in(item, f"{where}[{index}]")]
    return []


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda path: path.stem)
def test_M_CARD_LAYOUT_no_null_anywhere_in_a_response(path: Path) -> None:
    """CDS Hooks: JSON elements SHALL NOT be null; an unknown value is an absent key."""
    assert nulls_in(json.loads(path.read_text(encoding="utf-8"))) == []


def compare_with_golden(name: str, actual: Any) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("CRS_CDS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with CRS_CDS_UPDATE_GOLDEN=1 and review it"
    assert actual == json.loads(path.read_text(encoding="utf-8"))
