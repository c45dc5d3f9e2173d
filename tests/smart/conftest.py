"""The app with the SMART launch registered, and the SMART conformance double it talks to on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from service.app import create_app
from service.settings import Settings
from tests.smart.conformance_double import SmartConformanceDouble

APP_BASE = "http://127.0.0.1:5999"  # the test client never opens it; it only names the redirect URI
CLIENT_ID = "crs-timeline-test"


@pytest.fixture
def double() -> Iterator[SmartConformanceDouble]:
    with SmartConformanceDouble(CLIENT_ID, f"{APP_BASE}/smart/callback", "http://127.0.0.1:9/fhir", "unused") as d:
        yield d


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def smart_app(
    database_url: str, double: SmartConformanceDouble, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Flask:
    monkeypatch.setenv("CRS_CDS_SMART_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CRS_CDS_SMART_FHIR_SERVERS", double.iss)
    monkeypatch.setenv("CRS_CDS_SMART_DEADLINE_SECONDS", "1.5")
    monkeypatch.setenv("CRS_CDS_SMART_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("CRS_CDS_SMART_MAX_RESPONSE_BYTES", "65536")
    app = create_app(Settings(auth="off", public_base_url=APP_BASE, database_url=database_url, auto_migrate=False))
    app.extensions["crs_cds"] = dataclasses.replace(app.extensions["crs_cds"], clock=clock)
    return app
