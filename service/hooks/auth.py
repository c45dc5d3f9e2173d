"""Authentication of every CDS Hooks endpoint (discovery, services, feedback); probes and docs are open.

The JWT audience is the endpoint called: ``CRS_CDS_PUBLIC_BASE_URL`` + the request path (never the Host
header; the service refuses to start with authentication on and no public base URL). A failure is 401 with
no detail in the body and ``WWW-Authenticate: Bearer``; the reason goes to the log, never the token. When
the replay store (the database) cannot be used, the call is 503 ``unavailable``: never accepted unguarded.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from service.hooks.calls import note_database_failure
from service.hooks.errors import ServiceUnavailable, Unauthorized
from service.runtime import runtime
from service.security.jwt_auth import AuthenticationFailed, Caller

log = logging.getLogger(__name__)
OPEN_ENDPOINTS = frozenset({"health.liveness", "health.readiness", "openapi.document", "metrics.metrics"})
OPEN_ENDPOINTS |= {"smart.launch", "smart.callback", "timeline.page"}  # a browser's SMART launch authorises these


def install(app: Flask) -> None:
    app.before_request(authenticate)


def authenticate() -> Response | None:
    if request.method == "OPTIONS" or request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
        return None  # CORS preflight carries no credentials; unknown paths answer 404
    state = runtime()
    g.caller = None
    if state.verifier is None:
        return None  # CRS_CDS_AUTH=off: logged loudly at start-up
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("no bearer token")
        g.caller = state.verifier.verify(token.strip(), audience())
    except SQLAlchemyError as error:
        note_database_failure()
        log.warning("replay store unavailable: %s (endpoint %s)", type(error).__name__, request.path)
        raise ServiceUnavailable("the service cannot check tokens right now; retry later") from error
    except AuthenticationFailed as failure:
        log.warning("authentication failed: %s (endpoint %s)", failure.reason, request.path)
        raise Unauthorized() from failure
    return None


def audience() -> str:
    base = runtime().settings.public_base_url
    if not base:  # refused at start-up (check_audience_base); never fall back to the Host header
        raise AuthenticationFailed("CRS_CDS_PUBLIC_BASE_URL is not set")
    return base + request.path


def current_caller() -> Caller | None:
    caller = g.get("caller")
    return caller if isinstance(caller, Caller) else None


def allowed_fhir_servers() -> tuple[str, ...]:
    """The caller's FHIR servers; with authentication off, CRS_CDS_FHIR_ALLOWLIST."""
    caller = current_caller()
    if caller is not None:
        return caller.client.fhir_servers
    return runtime().settings.fhir_allowlist
