"""Fixtures of the fault-injection suite: hostile neighbours on loopback and apps that talk to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from service.app import create_app
from service.settings import Settings
from tests.conftest import full_prefetch, hook_body
from tests.faults.hostile import HostileFhirServer
from tests.fhir_builders import car_t

BEHAVIOURS = ("healthy", "drip", "endless", "bomb", "redirect", "dots", "dotsencoded")


@pytest.fixture
def hostile() -> Iterator[HostileFhirServer]:
    server = HostileFhirServer()
    yield server
    server.close()


@pytest.fixture
def other_host() -> Iterator[HostileFhirServer]:
    """A second FHIR host (another port): its pool and breaker are its own."""
    server = HostileFhirServer()
    yield server
    server.close()


@pytest.fixture
def make_app(database_url: str, hostile: HostileFhirServer, other_host: HostileFhirServer) -> Callable[..., Flask]:
    """An app with authentication off that may call every behaviour of the hostile server (tight bounds)."""

    def make(**overrides: Any) -> Flask:
        settings: dict[str, Any] = {
            "auth": "off",
            "database_url": database_url,
            "auto_migrate": False,
            "fhir_allowlist": tuple(server.base(name) for server in (hostile, other_host) for name in BEHAVIOURS),
            "fhir_deadline_seconds": 2,
            "fhir_timeout_seconds": 1,
            "fhir_max_response_bytes": 1024 * 1024,
        }
        return create_app(Settings(**{**settings, **overrides}))

    return make


def fetching_body(fhir_server: str, patient_id: str = "pat-1") -> dict[str, Any]:
    """A patient-view call (CAR T given 4 days ago) whose observations must be fetched from ``fhir_server``."""
    prefetch = full_prefetch()
    del prefetch["observations"]
    prefetch["medicationAdministrations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": car_t(hours_ago=96)}],
    }
    body = hook_body(fhirServer=fhir_server, prefetch=prefetch)
    body["context"]["patientId"] = patient_id
    body["fhirAuthorization"] = {"access_token": "secret-fhir-token", "token_type": "Bearer"}
    return body
