"""``/smart/launch`` and ``/smart/callback``: the EHR launch of the CRS timeline (SMART App Launch 2.x).

These endpoints are opened by a browser, not called by an EHR with a CDS Hooks JWT: their authorisation
is the SMART flow itself, and the page they lead to (``/timeline``) needs the session it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import requests
from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as WerkzeugResponse

from service.fhir.fetcher import pooled_session
from service.runtime import EXTENSION_KEY as RUNTIME_KEY
from service.runtime import Runtime, runtime
from service.smart.errors import LaunchRefused, NotAuthorised, NotConfigured
from service.smart.http import Limits
from service.smart.oauth import Client, authorize_url, discover, exchange, new_state, new_verifier
from service.smart.sessions import Active, Pending, SessionStore
from service.smart.settings import SmartSettings
from service.timeline.config import smart_settings
from service.urls import normalise_base_url

bp = Blueprint("smart", __name__)
EXTENSION_KEY = "crs_cds_smart"
COOKIE = "crs_cds_smart"
MAX_PARAMETER = 2048


@dataclass(frozen=True)
class SmartRuntime:
    settings: SmartSettings
    allowed: tuple[str, ...]
    store: SessionStore
    http: requests.Session
    limits: Limits
    client: Client | None
    secure_cookie: bool


@bp.record_once
def _configure(setup: BlueprintSetupState) -> None:
    install(cast(Flask, setup.app), smart_settings())


def install(app: Flask, smart: SmartSettings) -> None:
    state = runtime_of(app)
    settings = state.settings
    base = settings.public_base_url
    client = None
    if smart.client_id is not None and base is not None:
        client = Client(smart.client_id, smart.client_secret, f"{base}/smart/callback", smart.scope)
    app.extensions[EXTENSION_KEY] = SmartRuntime(
        settings=smart,
        allowed=smart.fhir_servers or settings.fhir_allowlist,
        store=SessionStore(state.repository.engine),
        http=pooled_session(4),
        limits=Limits(smart.timeout_seconds, smart.deadline_seconds, smart.max_response_bytes),
        client=client,
        secure_cookie=(base or "").startswith("https://"),
    )


def runtime_of(app: Flask) -> Runtime:
    value = app.extensions[RUNTIME_KEY]
    assert isinstance(value, Runtime)  # noqa: S101 - the app factory installs it before the blueprints
    return value


def smart_runtime() -> SmartRuntime:
    value = current_app.extensions[EXTENSION_KEY]
    assert isinstance(value, SmartRuntime)  # noqa: S101 - set when the blueprint is registered
    return value


def parameter(name: str) -> str:
    value = request.args.get(name, "")
    if not value or len(value) > MAX_PARAMETER:
        raise LaunchRefused(f"the {name} parameter is missing or too long")
    return value


@bp.get("/smart/launch")
def launch() -> WerkzeugResponse:
    smart = smart_runtime()
    if smart.client is None:
        raise NotConfigured("the SMART app is not registered here (CRS_CDS_SMART_CLIENT_ID, CRS_CDS_PUBLIC_BASE_URL)")
    iss, launch_context = normalise_base_url(parameter("iss")), parameter("launch")
    if iss not in smart.allowed:
        raise LaunchRefused("iss is not an allowed FHIR server for this service")
    config = discover(smart.http, iss, smart.limits)
    state, verifier = new_state(), new_verifier()
    now = runtime().clock()
    pending = Pending(iss, config.token_endpoint, verifier)
    cookie = smart.store.start(pending, state, now + timedelta(seconds=smart.settings.pending_seconds), now)
    target = authorize_url(config, smart.client, iss=iss, launch=launch_context, state=state, verifier=verifier)
    response = redirect(target, 302)
    set_cookie(response, cookie, smart)
    return response


@bp.get("/smart/callback")
def callback() -> WerkzeugResponse:
    smart = smart_runtime()
    cookie = request.cookies.get(COOKIE, "")
    if smart.client is None or not cookie:
        raise NotAuthorised("no launch in this browser: open the timeline from the EHR")
    if "error" in request.args:
        smart.store.end(cookie)
        raise NotAuthorised(f"the EHR did not authorise the app ({request.args['error'][:40]})")
    code, state = parameter("code"), parameter("state")
    now = runtime().clock()
    pending = smart.store.complete(cookie, state, now)
    token = exchange(smart.http, pending.token_endpoint, smart.client, code, pending.code_verifier, smart.limits)
    lifetime = min(token.expires_in or smart.settings.session_seconds, smart.settings.session_seconds)
    smart.store.activate(cookie, token.access_token, token.patient, now + timedelta(seconds=max(lifetime, 1)))
    return redirect(url_for("timeline.page"), 303)


def current_session() -> Active:
    """The active SMART session of this browser, or 401."""
    smart = smart_runtime()
    session = smart.store.active(request.cookies.get(COOKIE, ""), runtime().clock())
    if session is None:
        raise NotAuthorised("no active session: open the timeline from the EHR (sessions last a few minutes)")
    return session


def end_session() -> None:
    smart_runtime().store.end(request.cookies.get(COOKIE, ""))


def set_cookie(response: WerkzeugResponse, cookie: str, smart: SmartRuntime) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=smart.settings.session_seconds,
        httponly=True,
        secure=smart.secure_cookie,
        samesite="Lax",  # sent on the top-level redirect back from the EHR's login, not on cross-site posts
        path="/",
    )
