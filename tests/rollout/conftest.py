"""Apps for the rollout tests: the standard test app with settings changed (silent mode, another policy)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask

from service.app import create_app
from service.settings import Settings
from tests.fhir_builders import NOW
from tests.jwt_support import EhrKeys, SigningClient

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(settings: Settings, ehr_keys: EhrKeys) -> AppFactory:
    """An app on this test's database with some settings replaced; its clock reads ``now``."""

    def build(now: datetime = NOW, **changes: Any) -> Flask:
        flask_app = create_app(settings.model_copy(update=changes))
        flask_app.config["TESTING"] = True
        flask_app.test_client_class = type("TestEhrClient", (SigningClient,), {"keys": ehr_keys})
        state = flask_app.extensions["crs_cds"]
        flask_app.extensions["crs_cds"] = dataclasses.replace(state, clock=lambda: now)
        return flask_app

    return build
