"""The application factory."""

from __future__ import annotations

import logging

import requests
from flask import Flask

from service import health, http_policy, observability, openapi
from service.cards.catalog import load_card_catalog
from service.cards.render import CardRenderer
from service.cards.validate import validate_catalog
from service.config_check import configuration_warnings
from service.fhir.fetcher import FhirFetcher, pooled_session
from service.fhir.translate import Translator
from service.hooks import auth, calls, discovery, feedback, invoke
from service.hooks.errors import register_error_handlers
from service.hooks.services import load_services
from service.policy_file import load_policy
from service.runtime import Runtime
from service.security.clients import check_audience_base, load_clients
from service.security.jwt_auth import JwksCache, JwtVerifier
from service.settings import Settings
from service.smart import routes as smart_routes
from service.storage.db import create_database_engine, migrate
from service.storage.repository import Repository
from service.timeline import card_link
from service.timeline import routes as timeline_routes

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, session: requests.Session | None = None) -> Flask:
    """Build the app; ``session`` lets tests and benchmarks inject the FHIR transport."""
    settings = settings or Settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    build_runtime(settings, session).install(app)
    observability.install(app)
    register_error_handlers(app)
    for blueprint in (health.bp, openapi.bp, discovery.bp, invoke.bp, feedback.bp, smart_routes.bp, timeline_routes.bp):
        app.register_blueprint(blueprint)
    calls.install(app)  # before auth: a refused call is timed and recorded too
    auth.install(app)
    http_policy.install(app, settings)
    if settings.auth == "off":
        log.warning(
            "CRS_CDS_AUTH=off: EHR authentication is DISABLED. Local development only; never expose this service."
        )
    for warning in configuration_warnings(settings):
        log.warning("configuration: %s", warning)
    return app


def build_runtime(settings: Settings, session: requests.Session | None = None) -> Runtime:
    """Load and validate everything configurable; raises on the first bad file or value."""
    services = load_services(settings.catalog_dir)
    fetcher = FhirFetcher(
        session or pooled_session(settings.fhir_max_workers),
        max_workers=settings.fhir_max_workers,
        timeout_seconds=settings.fhir_timeout_seconds,
        deadline_seconds=settings.fhir_deadline_seconds,
        max_pages=settings.fhir_max_pages,
        max_response_bytes=settings.fhir_max_response_bytes,
        breaker_failures=settings.fhir_breaker_failures,
        breaker_cooldown_seconds=settings.fhir_breaker_cooldown_seconds,
    )
    policy = load_policy(settings.policy)
    catalog = load_card_catalog(settings.catalog_dir)
    engine = create_database_engine(settings.database_url, settings.database_timeout_seconds)
    if settings.auto_migrate:
        migrate(engine)
        engine.dispose()  # no pooled connection may cross a gunicorn fork
    repository = Repository(engine)
    validate_catalog(catalog, policy)
    return Runtime(
        settings=settings,
        services={service.id: service for service in services},
        fetcher=fetcher,
        policy=policy,
        translator=Translator.from_policy(policy),
        renderer=CardRenderer(catalog, crs_links=card_link.timeline_links(settings)),
        repository=repository,
        verifier=_verifier(settings, repository),
    )


def _verifier(settings: Settings, repository: Repository) -> JwtVerifier | None:
    if settings.auth == "off":
        return None
    check_audience_base(settings)
    clients = load_clients(settings.clients)
    if not clients:
        log.warning("no trusted EHR issuers (CRS_CDS_CLIENTS): every CDS Hooks call will be refused with 401")
    return JwtVerifier(
        clients,
        JwksCache(pooled_session(4), settings.jwks_refresh_seconds),
        repository,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
    )
