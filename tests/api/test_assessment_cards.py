"""Hook calls run the engine: the CRS assessment card (patient-view) and order-check cards (order hooks)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import hook_body
from tests.fhir_builders import GRADE3_OBSERVATIONS, car_t, given, order, prefetch

Resource = dict[str, Any]


def test_patient_view_grade_3_card_carries_the_assessment(call_hook: Callable[..., Any]) -> None:
    body = hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]))

    response = call_hook(body)

    assert response.status_code == 200
    (card,) = response.json["cards"]
    assessment = card["extension"]["crs-assessment"]
    assert (assessment["grade"], assessment["managedAsGrade"]) == (3, 3)
    assert {"G-GRADE", "M-G3", "M-TOCI-DOSE"} <= set(assessment["rules"])
    assert assessment["asOf"] == "2026-11-20T12:00:00Z"
    assert assessment["policyVersion"] == "2026.1"
    assert card["indicator"] == "critical"
    assert card["summary"] == "CRS grade 3: tocilizumab 560 mg IV + dexamethasone 10 mg IV q6h; ICU now"
    descriptions = [s["actions"][0]["description"] for s in card["suggestions"]]
    assert descriptions[0].startswith("Tocilizumab 560 mg IV over 60 min")
    assert descriptions[1].startswith("Dexamethasone 10 mg IV every 6 h, immediately")
    assert not any(text in card["detail"] for text in descriptions)  # M-CARD-LAYOUT: each order once
    uuid.UUID(card["uuid"])


def test_patient_view_insufficient_data_has_no_grade_never_0(call_hook: Callable[..., Any]) -> None:
    """C3: no grade at all, never 0; the key is absent (CDS Hooks: elements SHALL NOT be null)."""
    response = call_hook(hook_body(prefetch=prefetch([], [car_t(hours_ago=96)])))

    (card,) = response.json["cards"]
    assert "grade" not in card["extension"]["crs-assessment"]
    assert "managedAsGrade" not in card["extension"]["crs-assessment"]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("CRS grade unknown")


def test_patient_view_out_of_scope_has_no_card(call_hook: Callable[..., Any]) -> None:
    response = call_hook(hook_body(prefetch=prefetch(GRADE3_OBSERVATIONS, [given("acetaminophen", 2)])))

    assert response.json == {"cards": []}


def test_order_select_checks_only_the_selected_drafts(call_hook: Callable[..., Any]) -> None:
    gm_csf = order("sargramostim", status="draft")
    toci = order("tocilizumab", status="draft", dose=(1000, "mg"))
    body = hook_body("order-select", prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]))
    body["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": gm_csf}, {"resource": toci}],
    }
    body["context"]["selections"] = [f"MedicationRequest/{gm_csf['id']}"]

    (card,) = call_hook(body).json["cards"]

    assert card["indicator"] == "critical"
    assert card["extension"]["crs-order-check"] == {
        "rules": ["O-GMCSF"],
        "draftOrder": f"MedicationRequest/{gm_csf['id']}",
    }


def test_order_sign_checks_every_draft(call_hook: Callable[..., Any]) -> None:
    gm_csf = order("sargramostim", status="draft")
    toci = order("tocilizumab", status="draft", dose=(1000, "mg"))
    body = hook_body("order-sign", prefetch=prefetch(GRADE3_OBSERVATIONS, [car_t(hours_ago=96)]))
    body["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": gm_csf}, {"resource": toci}],
    }

    cards = call_hook(body).json["cards"]

    assert [card["extension"]["crs-order-check"]["rules"] for card in cards] == [["O-GMCSF"], ["O-TOCI-DOSE"]]
