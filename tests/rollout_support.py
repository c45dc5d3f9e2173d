"""Hook calls built from the synthetic patients of fhir_fixtures/, shifted to a given time (rollout tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.fixtures import FIXTURES_DIR, read_fixture, resources_of, shifted

PREFETCH_KEY = {
    "MedicationAdministration": "medicationAdministrations",
    "MedicationRequest": "medicationRequests",
    "Observation": "observations",
}
SERVICE_FOR_HOOK = {
    "patient-view": "crs-patient-view",
    "order-select": "crs-order-select",
    "order-sign": "crs-order-sign",
}


@dataclass(frozen=True)
class FixtureCall:
    name: str
    service_id: str
    body: dict[str, Any]


def fixture_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((FIXTURES_DIR / "index.json").read_text(encoding="utf-8"))
    return rows


def fixture_call(row: dict[str, Any], now: datetime, hook_instance: str) -> FixtureCall:
    """The call an EHR makes for this fixture's patient at ``now``, with every prefetch key answered."""
    chart = list(resources_of(shifted(read_fixture(FIXTURES_DIR / row["fixture"]), now)))
    patient = next(resource for resource in chart if resource["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {"patient": patient} | {key: _searchset([]) for key in PREFETCH_KEY.values()}
    for resource in chart:
        key = PREFETCH_KEY.get(resource["resourceType"])
        if key and not (key == "medicationRequests" and resource.get("status") == "draft"):
            prefetch[key]["entry"].append({"resource": resource})
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": patient["id"]}
    if row["hook"] != "patient-view":
        drafts = shifted(read_fixture(FIXTURES_DIR / "drafts" / row["fixture"]), now)
        context["draftOrders"] = drafts
    body = {"hook": row["hook"], "hookInstance": hook_instance, "context": context, "prefetch": prefetch}
    return FixtureCall(row["fixture"].removesuffix(".json"), SERVICE_FOR_HOOK[row["hook"]], body)


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
