"""The CRS card's link to the timeline, and /timeline when the EHR's FHIR server fails or revokes the token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.fhir.bundles import bundle_resources
from tests.smart.conformance_double import SmartConformanceDouble
from tests.smart.conftest import APP_BASE, Clock
from tests.smart.launch_support import authorise, launch

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def patient_view(name: str) -> dict[str, Any]:
    resources = bundle_resources(json.loads((FIXTURES / name).read_text()))

    def searchset(kind: str) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources if r["resourceType"] == kind],
        }

    patient = next(r for r in resources if r["resourceType"] == "Patient")
    return {
        "hook": "patient-view",
        "hookInstance": "4c0f3a4e-4bd6-4a8f-9a0e-0d5b8b1b7f11",
        "context": {"userId": "Practitioner/doc-1", "patientId": patient["id"]},
        "prefetch": {
            "patient": patient,
            "observations": searchset("Observation"),
            "medicationAdministrations": searchset("MedicationAdministration"),
            "medicationRequests": searchset("MedicationRequest"),
        },
    }


def crs_card(app: Flask, name: str) -> dict[str, Any]:
    response = app.test_client().post("/cds-services/crs-patient-view", json=patient_view(name))
    assert response.status_code == 200
    return next(card for card in response.json["cards"] if card["summary"].startswith("CRS grade"))


def test_the_grade_3_card_carries_the_smart_launch_link(smart_app: Flask, clock: Clock) -> None:
    clock.now = ANCHOR

    card = crs_card(smart_app, "grade3-norepinephrine.json")

    assert card["summary"].startswith("CRS grade 3")
    smart_links = [link for link in card["links"] if link["type"] == "smart"]
    assert smart_links == [
        {"label": "CRS timeline: the episode at a glance", "url": f"{APP_BASE}/smart/launch", "type": "smart"}
    ]
    assert not [link for link in card["links"] if link["url"].startswith(APP_BASE) and link["type"] == "absolute"]


def test_only_the_crs_card_carries_it(smart_app: Flask, clock: Clock) -> None:
    clock.now = ANCHOR

    response = smart_app.test_client().post("/cds-services/crs-patient-view", json=patient_view("hlh-suspicion.json"))

    launches = [
        card for card in response.json["cards"] if any(link["type"] == "smart" for link in card.get("links", []))
    ]
    assert len(response.json["cards"]) == 2
    assert [card["summary"][:9] for card in launches] == ["CRS grade"]


def test_no_link_without_smart_and_an_absolute_one_only_when_the_site_sets_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from service.app import create_app
    from service.settings import Settings

    def card_links(**env: str) -> list[dict[str, str]]:
        monkeypatch.delenv("CRS_CDS_SMART_CLIENT_ID", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        app = create_app(Settings(auth="off", public_base_url=APP_BASE, database_url=database_url, auto_migrate=False))
        app.extensions["crs_cds"] = dataclasses.replace(app.extensions["crs_cds"], clock=lambda: ANCHOR)
        links: list[dict[str, str]] = crs_card(app, "grade3-norepinephrine.json").get("links", [])
        return [link for link in links if "timeline" in link["label"]]

    assert card_links() == []
    site_page = "https://portal.hospital.example/crs-timeline"
    assert card_links(CRS_CDS_TIMELINE_ABSOLUTE_URL=site_page) == [
        {"label": "CRS timeline: the episode at a glance", "url": site_page, "type": "absolute"}
    ]


def active_browser(smart_app: Flask, double: SmartConformanceDouble) -> Any:
    client = smart_app.test_client()
    assert client.get("/smart/callback", query_string=authorise(launch(client, double), double)).status_code == 303
    return client


def test_a_fhir_server_that_is_gone_gives_503_not_a_page(smart_app: Flask, double: SmartConformanceDouble) -> None:
    client = active_browser(smart_app, double)  # the double's upstream FHIR server is a closed port

    response = client.get("/timeline")

    assert response.status_code == 503
    assert response.json["error"] == "unavailable"


def test_a_revoked_token_ends_the_session(smart_app: Flask, double: SmartConformanceDouble) -> None:
    client = active_browser(smart_app, double)
    double.state.tokens.clear()  # the EHR revoked it: its FHIR server answers 401

    first, second = client.get("/timeline"), client.get("/timeline")

    assert first.status_code == 401
    assert "no longer accepts" in first.json["message"]
    assert second.status_code == 401
    assert "no active session" in second.json["message"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRS_CDS_SMART_FHIR_SERVERS", "http://fhir.example.org/r4"),
        ("CRS_CDS_SMART_SESSION_SECONDS", "86400"),
        ("CRS_CDS_TIMELINE_TIMEZONE", "Mars/Olympus_Mons"),
        ("CRS_CDS_TIMELINE_ABSOLUTE_URL", "http://portal.example/timeline"),
    ],
)
def test_check_config_names_a_bad_timeline_or_smart_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv(variable, value)

    result = CliRunner().invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert variable in result.output
    assert "Traceback" not in result.output
