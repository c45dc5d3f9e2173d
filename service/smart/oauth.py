"""SMART App Launch 2.x, EHR launch: discovery, the authorisation request with PKCE, the token exchange.

The EHR opens the launch URL with ``iss`` (its FHIR base URL) and ``launch`` (an opaque context handle).
Discovery reads ``{iss}/.well-known/smart-configuration``; the app then sends the browser to the
authorisation endpoint with ``aud=iss``, a random ``state`` and an S256 ``code_challenge``, and exchanges
the code with the ``code_verifier``. The token response must name the patient in context.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from service.smart.errors import NotAuthorised, UpstreamUnavailable
from service.smart.http import Limits, check_endpoint, get_json, post_form

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class SmartConfiguration:
    authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    scope: str


@dataclass(frozen=True)
class Token:
    access_token: str
    patient: str
    expires_in: int | None
    scope: str


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_verifier() -> str:
    """43 to 128 characters of the unreserved set (RFC 7636): 64 random bytes give 86."""
    return secrets.token_urlsafe(64)


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def discover(session: requests.Session, iss: str, limits: Limits) -> SmartConfiguration:
    document = get_json(session, f"{iss}/.well-known/smart-configuration", limits)
    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        raise UpstreamUnavailable("the EHR's SMART configuration does not offer PKCE with S256")
    return SmartConfiguration(
        authorization_endpoint=check_endpoint(document.get("authorization_endpoint"), "authorization_endpoint"),
        token_endpoint=check_endpoint(document.get("token_endpoint"), "token_endpoint"),
    )


def authorize_url(
    config: SmartConfiguration, client: Client, *, iss: str, launch: str, state: str, verifier: str
) -> str:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "launch": launch,
        "scope": client.scope,
        "state": state,
        "aud": iss,
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    separator = "&" if "?" in config.authorization_endpoint else "?"
    return config.authorization_endpoint + separator + urlencode(query)


def exchange(
    session: requests.Session, token_endpoint: str, client: Client, code: str, verifier: str, limits: Limits
) -> Token:
    """The token for the code; a confidential client authenticates with HTTP Basic, a public one sends its id."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    if auth is None:
        form["client_id"] = client.client_id
    answer = post_form(session, token_endpoint, form, limits, auth)
    if "error" in answer:
        raise NotAuthorised(f"the EHR refused the authorisation code ({str(answer['error'])[:40]})")
    return _token(answer)


def _token(answer: dict[str, object]) -> Token:
    access_token, patient = answer.get("access_token"), answer.get("patient")
    if not isinstance(access_token, str) or not access_token or str(answer.get("token_type", "")).lower() != "bearer":
        raise UpstreamUnavailable("the EHR's token response has no bearer access token")
    if not isinstance(patient, str) or not FHIR_ID.match(patient):
        raise UpstreamUnavailable("the EHR's token response names no patient in context")
    expires_in = answer.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) and not isinstance(expires_in, bool) else None
    return Token(access_token, patient, lifetime, str(answer.get("scope", "")))
