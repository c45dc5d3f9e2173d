"""The card rules of the CDS Hooks 2.0 checklist (C1-C6), applied to every response a test receives.

Also validates every suggested FHIR resource with fhir.resources R4B.
"""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest


# The architecture contract keeps these nulls on purpose: "grade is null when the data are insufficient".
def nulls_in(value: Any, where: str = "") -> list[str]:
    """Where a JSON value holds null (CDS Hooks: elements SHALL NOT be null; an unknown value is absent)."""
    if value is None:
        return [where]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in nulls_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in nulls_in(item, f"{where}[{index}]")]
    return []


def no_nulls_or_empties(value: Any, path: tuple[str, ...] = ()) -> None:
    """C1: JSON elements are never null or empty (the FHIR resources inside are checked by their own model)."""
    if path[-1:] == ("resource",):
        return
    assert value is not None, f"null at {'.'.join(path)}"
    assert value not in ("", [], {}), f"empty value at {'.'.join(path)}"
    if isinstance(value, dict):
        for key, item in value.items():
            no_nulls_or_empties(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            no_nulls_or_empties(item, path)


def check_action(action: dict[str, Any]) -> None:
    assert action["type"] in ("create", "update", "delete")
    assert action["description"]
    if action["type"] in ("create", "update"):
        resource = action["resource"]
        assert resource["resourceType"] == "MedicationRequest"
        MedicationRequest.model_validate(resource)
    else:
        assert action["resourceId"].startswith("MedicationRequest/")


def check_card(card: dict[str, Any]) -> None:
    uuid.UUID(card["uuid"])  # C4
    assert 0 < len(card["summary"]) < 140  # C2
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"]
    assert card["source"]["url"].startswith("https://")
    assert card["detail"].strip()  # C3: Markdown
    for suggestion in card.get("suggestions", []):
        uuid.UUID(suggestion["uuid"])
        assert suggestion["label"]
        assert len(suggestion["actions"]) == 1  # C5: one action per suggestion (Epic)
        check_action(suggestion["actions"][0])
    if "suggestions" in card:
        assert card["selectionBehavior"] in ("any", "at-most-one")
    for reason in card.get("overrideReasons", []):  # C6
        assert all(reason[field] for field in ("system", "code", "display"))
    for link in card.get("links", []):
        assert all(link[field] for field in ("label", "url"))
        assert link["type"] in ("absolute", "smart")
        assert "appContext" not in link or link["type"] == "smart"


def check_response(body: dict[str, Any]) -> None:
    assert isinstance(body["cards"], list)
    for key, value in body.items():
        if key != "cards":
            no_nulls_or_empties(value, (key,))
    for card in body["cards"]:
        no_nulls_or_empties(card)
        check_card(card)
