"""Schemathesis fuzzes the app in-process from its OpenAPI description: no 500, no undocumented status,
responses as documented. Bounded examples keep CI fast; the app runs with authentication off so the
fuzzer reaches the handlers (authentication is covered by test_jwt.py and the run below)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.openapi import openapi_document
from service.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    database = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    return create_app(Settings(auth="off", database_url=f"sqlite:///{database}", max_body_bytes=1_000_000))


# The document's own path is served by the loader and checked by test_the_served_document_is_the_repository_file.
OPERATIONS = [(m.upper(), p) for p, item in openapi_document()["paths"].items() for m in item if p != "/openapi.json"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzzed_requests_get_documented_answers(fuzzed_app: Flask, method: str, path: str) -> None:
    # Driven by hand rather than schemathesis' pytest plugin, which does not run under pytest 9.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    operation = next(result.ok() for result in schema.get_all_operations() if result.ok().label == f"{method} {path}")

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
        case.call_and_validate(checks=CHECKS)

    fuzz()


def test_the_served_document_is_the_repository_file(fuzzed_app: Flask) -> None:
    served = fuzzed_app.test_client().get("/openapi.json").json
    assert served == openapi_document()
    assert Path(__file__).resolve().parents[2].joinpath("service", "data", "openapi.yaml").is_file()


def test_every_route_and_service_of_the_app_is_documented(fuzzed_app: Flask) -> None:
    services = fuzzed_app.extensions["crs_cds"].services
    documented = set(openapi_document()["paths"])
    routes = set()
    for rule in fuzzed_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if rule.rule == "/cds-services/<service_id>":
            routes |= {f"/cds-services/{service_id}" for service_id in services}
        else:
            routes.add(rule.rule.replace("<service_id>", "{serviceId}"))

    assert routes == documented
