"""What the app builds once at start-up and every request reads: settings, catalog, FHIR fetcher, record writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, current_app

from service.cards.render import CardRenderer
from service.crs.policy import Policy
from service.fhir.fetcher import FhirFetcher
from service.fhir.translate import Translator
from service.hooks.services import ServiceDefinition
from service.security.jwt_auth import JwtVerifier
from service.settings import Settings
from service.storage.repository import Repository
from service.storage.writer import RecordWriter

EXTENSION_KEY = "crs_cds"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    services: dict[str, ServiceDefinition]
    fetcher: FhirFetcher
    policy: Policy
    translator: Translator
    renderer: CardRenderer
    repository: Repository
    verifier: JwtVerifier | None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.writer.capacity = self.settings.record_queue

    @property
    def writer(self) -> RecordWriter:
        """Audit rows and call records, written off the response path (service/storage/writer.py).

        The repository's: a copy of this Runtime (``dataclasses.replace``) shares the queue and its thread.
        """
        return self.repository.writer

    def install(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self


def runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    value = current_app.extensions[EXTENSION_KEY]
    assert isinstance(value, Runtime)  # noqa: S101 - set by create_app only
    return value
