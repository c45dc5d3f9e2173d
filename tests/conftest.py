"""Fixture trio (app, client, runner) and request builders shared by the test tree."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from service.app import create_app
from service.settings import Settings
from service.storage.db import create_database_engine, migrate
from service.storage.writer import flush_all
from tests.cds_contract import check_response
from tests.fhir_builders import NOW
from tests.jwt_support import TEST_BASE, EhrKeys, SigningClient, write_clients_file

FHIR_BASE = "https://fhir.example.org/r4"
PATIENT_ID = "pat-1"
PREFETCH_KEYS = ("patient", "observations", "medicationAdministrations", "medicationRequests")


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    engine = create_database_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    return path


@pytest.fixture
def database_url(migrated_database: Path, tmp_path: Path) -> str:
    path = tmp_path / "crs-cds.sqlite3"
    shutil.copyfile(migrated_database, path)
    return f"sqlite:///{path}"


@pytest.fixture(autouse=True)
def isolated_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read from the environment (the CLI) use this test's database, never the project's."""
    monkeypatch.setenv("CRS_CDS_DATABASE_URL", database_url)


@pytest.fixture(scope="session")
def ehr_keys() -> EhrKeys:
    return EhrKeys.generate()


@pytest.fixture(scope="session")
def clients_file(ehr_keys: EhrKeys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clients_file(tmp_path_factory.mktemp("clients") / "clients.toml", ehr_keys, [FHIR_BASE])


@pytest.fixture
def settings(database_url: str, clients_file: Path) -> Settings:
    """Authentication on, as in production: the test client signs every call as a trusted EHR."""
    return Settings(
        auth="on",
        clients=clients_file,
        public_base_url=TEST_BASE,
        fhir_deadline_seconds=5,
        fhir_timeout_seconds=2,
        database_url=database_url,
        auto_migrate=False,
    )


@pytest.fixture
def app(settings: Settings, ehr_keys: EhrKeys) -> Flask:
    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    flask_app.test_client_class = type("TestEhrClient", (SigningClient,), {"keys": ehr_keys})
    runtime = flask_app.extensions["crs_cds"]
    flask_app.extensions["crs_cds"] = dataclasses.replace(runtime, clock=lambda: NOW)
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def records_written() -> None:
    """Every audit row and call record queued so far is in the database (a writer thread writes them after
    the answer, within about a second): call before reading them."""
    assert flush_all(5.0), "records still queued after 5 s"


def empty_bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": []}


def full_prefetch() -> dict[str, Any]:
    """Every prefetch key answered with "no data" so that nothing needs fetching."""
    return {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "1970-01-01"},
        "observations": empty_bundle(),
        "medicationAdministrations": empty_bundle(),
        "medicationRequests": empty_bundle(),
    }


def draft_order(order_id: str = "draft-1") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"text": "tocilizumab"},
    }


def hook_body(hook: str = "patient-view", **overrides: Any) -> dict[str, Any]:
    """A valid request for ``hook``; keyword arguments replace top-level fields."""
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft_order()}],
        }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-1"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": full_prefetch(),
    }
    body.update(copy.deepcopy(overrides))
    return body


SERVICE_FOR_HOOK = {
    "patient-view": "crs-patient-view",
    "order-select": "crs-order-select",
    "order-sign": "crs-order-sign",
}


@pytest.fixture
def call_hook(client: FlaskClient) -> Callable[..., Any]:
    def call(body: dict[str, Any], service_id: str | None = None) -> Any:
        response = client.post(f"/cds-services/{service_id or SERVICE_FOR_HOOK[body['hook']]}", json=body)
        if response.status_code == 200:
            check_response(response.get_json())  # every 200 a test sees obeys the card rules of the checklist
        return response

    return call


SERVED_MODULES = frozenset({"test_http_limits.py"})  # start `crs-cds serve` (gunicorn) themselves


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The integration tier: every test under tests/integration/ (a real FHIR server on Node, PostgreSQL,
    chromium) and the tests that start the production server. ``make test-fast`` leaves them out."""
    for item in items:
        if "integration" in item.path.parts or item.path.name in SERVED_MODULES:
            item.add_marker(pytest.mark.integration)
