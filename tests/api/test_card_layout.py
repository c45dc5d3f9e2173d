"""M-CARD-LAYOUT over every synthetic patient (fhir_fixtures/): the new layout, no null, one home for wording.

Every fixture is called through the service as an EHR would (prefetch answered, drafts for order hooks); each
card must read as the layout says: a summary naming grade and actions within 140 characters, the detail in the
order Do now, Why, Monitoring, Data quality, each suggested order once, times with their zone, no FHIR id.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.cards.catalog import load_card_catalog
from service.cards.render import CardRenderer
from service.crs.assessment import Assessment, Note
from service.crs.engine import assess
from service.crs.notes import NOTE_PARAMS
from service.settings import BUNDLED_CATALOG_DIR
from tests.cds_contract import nulls_in
from tests.fhir_builders import NOW, POLICY, TRANSLATOR
from tests.golden_cases import CASES
from tests.rollout_support import fixture_call, fixture_rows
from tests.wording_support import CATALOG

ROWS = fixture_rows()
SECTIONS = ("**Do now**", "**Why**", "**Monitoring**", "**Data quality**")
FHIR_ID = re.compile(r"\b(Observation|MedicationAdministration|MedicationRequest|Patient)/[\w.-]+")
CLINICAL_WORDS = ("evaluate other causes", "mg/kg", "repeat dose", "Repeat dose")


def test_there_are_25_fixtures() -> None:
    assert len(ROWS) == 25


@pytest.mark.parametrize("row", ROWS, ids=[row["fixture"].removesuffix(".json") for row in ROWS])
def test_M_CARD_LAYOUT_every_fixture_renders_in_the_layout(call_hook: Callable[..., Any], row: dict[str, Any]) -> None:
    call = fixture_call(row, NOW, "8c2b1f0e-1d2a-4a43-9d39-5f2f4b7d7c11")

    response = call_hook(call.body, call.service_id)

    assert response.status_code == 200
    assert nulls_in(response.json) == []
    for card in response.json["cards"]:
        check_card(card)
        if card["source"]["topic"]["code"] == "crs-assessment":
            check_crs_card(card)


def check_card(card: dict[str, Any]) -> None:
    offers = [s["actions"][0].get("description", "") for s in card.get("suggestions", [])]
    shown = " ".join([card["summary"], card["detail"], *offers, *(s["label"] for s in card.get("suggestions", []))])
    assert len(card["summary"]) <= 139
    assert FHIR_ID.search(shown) is None, shown
    assert re.findall(r"\d\d:\d\d(?! UTC)", shown) == []  # every time names its zone
    assert "policy 2026.1" in card["source"]["label"]
    assert {"Grading", "Management"} <= {link["label"].split(":")[0] for link in card["links"]}  # which is which


def check_crs_card(card: dict[str, Any]) -> None:
    detail = card["detail"]
    assert card["summary"].startswith("CRS grade")
    at = [detail.index(section) for section in SECTIONS if section in detail]
    assert "**Do now**" in detail
    assert at == sorted(at), detail
    for suggestion in card.get("suggestions", []):
        assert suggestion["actions"][0]["description"] not in detail  # each order once, as a suggestion
    if "**Data quality**" in detail:
        quality = detail[detail.index("**Data quality**") : detail.rindex("_Assessed")]
        assert not any(word in quality for word in CLINICAL_WORDS), quality


def test_M_CARD_LAYOUT_pediatric_dose_note_sits_with_the_dose(call_hook: Callable[..., Any]) -> None:
    (row,) = [row for row in ROWS if row["fixture"] == "pediatric-22kg.json"]
    call = fixture_call(row, NOW, "8c2b1f0e-1d2a-4a43-9d39-5f2f4b7d7c11")

    (card,) = call_hook(call.body, call.service_id).json["cards"]

    (offer,) = card["suggestions"]
    assert "under 30 kg the tocilizumab label dose is 12 mg/kg" in offer["actions"][0]["description"]
    assert "12 mg/kg" not in card["detail"]


def all_notes(assessment: Assessment) -> list[Note]:
    notes = [*assessment.next_steps, *assessment.reminders, *assessment.data_quality, *assessment.flag_notes]
    notes += [order.wording() for order in assessment.recommended]
    notes += [reason for item in assessment.withheld for reason in item.reasons]
    notes += list(assessment.hlh.organ_findings) if assessment.hlh else []
    found: list[Note] = []
    while notes:
        note = notes.pop()
        found.append(note)
        notes.extend(note.parts)
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.hook == "patient-view"], ids=lambda case: case.name)
def test_the_engine_emits_only_registered_keys_and_parameters(case: Any) -> None:
    assessment = assess(TRANSLATOR.timeline(case.chart, []), POLICY, NOW)

    for note in all_notes(assessment):
        assert note.key in NOTE_PARAMS, note.key
        assert set(note.params) <= set(NOTE_PARAMS[note.key]), note.key
    for item in assessment.evidence:
        assert set(item.params) | {"at"} <= set(NOTE_PARAMS[item.key]), item.key


def test_a_site_override_of_one_key_changes_only_that_text(tmp_path: Path) -> None:
    site = tmp_path / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, site)
    cards = site / "cards.toml"
    new = "Tocilizumab now: every {{ hours }} h of delay matters."
    cards.write_text(cards.read_text(encoding="utf-8").replace("[texts]", f'[texts]\n"M-NO-DELAY" = "{new}"'))
    bundled = CardRenderer(CATALOG, new_uuid=lambda: "uuid")
    overridden = CardRenderer(load_card_catalog(site), new_uuid=lambda: "uuid")
    old = "Do NOT delay tocilizumab: each 12 h of delay raised the risk of cardiotoxicity 1.7-fold."
    changed = 0

    for case in [c for c in CASES if c.hook == "patient-view"]:
        assessment = assess(TRANSLATOR.timeline(case.chart, []), POLICY, NOW)
        before = [card.card for card in bundled.patient_view(assessment, "pat-1")]
        after = [card.card for card in overridden.patient_view(assessment, "pat-1")]
        expected = [
            {**card, "detail": card["detail"].replace(old, new.replace("{{ hours }}", "12"))} for card in before
        ]
        assert after == expected, case.name
        changed += sum(old in card["detail"] for card in before)

    assert changed >= 3  # the override was exercised on several cards
