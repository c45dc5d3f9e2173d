"""Discovery (checklist D1, D2)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.conftest import PREFETCH_KEYS

ALLOWED_TOKENS = {"context.patientId", "context.userId", "context.encounterId", "userPractitionerId"}


def test_discovery_lists_the_three_services_with_required_fields(client: FlaskClient) -> None:
    response = client.get("/cds-services")

    assert response.status_code == 200
    services = {service["id"]: service for service in response.json["services"]}
    assert {sid: s["hook"] for sid, s in services.items()} == {
        "crs-patient-view": "patient-view",
        "crs-order-select": "order-select",
        "crs-order-sign": "order-sign",
    }
    for service in services.values():
        assert service["title"]
        assert service["description"]
        assert tuple(service["prefetch"]) == PREFETCH_KEYS


def test_prefetch_templates_use_only_cds_hooks_2_tokens_and_plain_search(client: FlaskClient) -> None:
    for service in client.get("/cds-services").json["services"]:
        for template in service["prefetch"].values():
            tokens = set(re.findall(r"\{\{(.*?)\}\}", template))
            assert tokens <= ALLOWED_TOKENS
            assert "today()" not in template
            assert "_maxresults" not in template
            assert re.match(
                r"^(Patient/\{\{context.patientId\}\}|[A-Z][A-Za-z]+\?patient=\{\{context.patientId\}\}&)",
                template,
            )


def test_discovery_json_has_no_null_or_empty_values(client: FlaskClient) -> None:
    def walk(value: object) -> None:
        assert value not in (None, "", [], {})
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(client.get("/cds-services").json)
