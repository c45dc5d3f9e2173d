"""SMART App Launch 2.x conformance double: an EHR's authorisation server, in front of the test FHIR server.

Not a real authorisation server (Medplum's needs PostgreSQL and Redis; no SMART server installs from a
registry here). It checks what a conforming EHR checks and nothing more, strictly:

- ``GET {iss}/.well-known/smart-configuration`` (SMART 2.0 discovery, PKCE S256 only);
- ``GET /auth/authorize``: registered client and exact redirect URI (else 400, no redirect), ``response_type=code``,
  ``aud`` = iss, a launch it issued, the required scopes, a ``state``, an S256 ``code_challenge``; the clinician is
  already signed in to the EHR, so it answers with a code (one use, 60 s);
- ``POST /auth/token``: the code, the same redirect URI and client, and the ``code_verifier`` of the challenge;
  answers a bearer token and the patient in context;
- ``{iss}/...``: FHIR reads with that token only, passed to the real FHIR server (Medplum) with its own token.

``mode`` makes it hostile for the boundary tests: slow, huge, redirecting, without PKCE, or a slow token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

REQUIRED_SCOPES = {
    "launch",
    "patient/Observation.rs",
    "patient/MedicationAdministration.rs",
    "patient/MedicationRequest.rs",
    "patient/Patient.rs",
}


@dataclass
class Grant:
    patient: str
    challenge: str
    redirect_uri: str
    client_id: str
    scope: str
    issued_at: float
    used: bool = False


@dataclass
class DoubleState:
    client_id: str
    redirect_uri: str
    upstream: str
    upstream_token: str
    mode: str = "conforming"
    launches: dict[str, str] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    seen: list[dict[str, Any]] = field(default_factory=list)
    base: str = ""

    @property
    def iss(self) -> str:
        return f"{self.base}/fhir"


class SmartConformanceDouble:
    """Runs on 127.0.0.1 in a thread for the duration of a ``with`` block."""

    def __init__(self, client_id: str, redirect_uri: str, upstream: str, upstream_token: str) -> None:
        self.state = DoubleState(client_id, redirect_uri, upstream.rstrip("/"), upstream_token)
        handler = type("Handler", (_Handler,), {"double": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.state.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> SmartConformanceDouble:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def iss(self) -> str:
        return self.state.iss

    def new_launch(self, patient_id: str) -> str:
        """What the EHR does when the clinician opens the card's SMART link: a launch handle for the patient."""
        launch = secrets.token_urlsafe(16)
        self.state.launches[launch] = patient_id
        return launch


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    double: DoubleState

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.double.seen.append({"method": "GET", "path": url.path, "query": url.query, "headers": dict(self.headers)})
        if url.path == "/fhir/.well-known/smart-configuration":
            self._configuration()
        elif url.path == "/auth/authorize":
            self._authorize({key: values[0] for key, values in parse_qs(url.query).items()})
        elif url.path.startswith("/fhir/"):
            self._fhir(url.path.removeprefix("/fhir"), url.query)
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        self.double.seen.append({"method": "POST", "path": self.path, "form": form, "headers": dict(self.headers)})
        if self.path == "/auth/token":
            self._token(form)
        else:
            self._json(404, {"error": "not_found"})

    def _configuration(self) -> None:
        mode, base = self.double.mode, self.double.base
        if mode == "slow":
            time.sleep(8)
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "https://elsewhere.invalid/.well-known/smart-configuration")
            self.end_headers()
            return
        if mode == "huge":
            self._huge()
            return
        document: dict[str, Any] = {
            "issuer": self.double.iss,
            "authorization_endpoint": f"{base}/auth/authorize",
            "token_endpoint": f"{base}/auth/token",
            "capabilities": ["launch-ehr", "client-public", "client-confidential-symmetric", "context-ehr-patient"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "response_types_supported": ["code"],
            "scopes_supported": sorted(REQUIRED_SCOPES | {"openid", "fhirUser"}),
        }
        if mode == "no-pkce":
            del document["code_challenge_methods_supported"]
        self._json(200, document)

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            self.wfile.write(b'{"padding": "')
            for _ in range(200):  # 20 MB, sent without a Content-Length
                self.wfile.write(b"x" * 100_000)
        except OSError:
            pass  # the client hung up once it had enough: what the test wants

    def _authorize(self, query: dict[str, str]) -> None:
        double = self.double
        if query.get("client_id") != double.client_id or query.get("redirect_uri") != double.redirect_uri:
            self._json(400, {"error": "invalid_client"})
            return
        problem = _authorize_problem(double, query)
        answer = {"error": problem} if problem else {"code": self._grant(query)}
        location = f"{double.redirect_uri}?{urlencode({**answer, 'state': query.get('state', '')})}"
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()

    def _grant(self, query: dict[str, str]) -> str:
        code = secrets.token_urlsafe(24)
        self.double.codes[code] = Grant(
            patient=self.double.launches.pop(query["launch"]),
            challenge=query["code_challenge"],
            redirect_uri=query["redirect_uri"],
            client_id=query["client_id"],
            scope=query["scope"],
            issued_at=time.monotonic(),
        )
        return code

    def _token(self, form: dict[str, str]) -> None:
        if self.double.mode == "slow-token":
            time.sleep(8)
        grant = self.double.codes.get(form.get("code", ""))
        client_id = form.get("client_id") or _basic_user(self.headers.get("Authorization", ""))
        valid = (
            grant is not None
            and not grant.used
            and time.monotonic() - grant.issued_at < 60
            and form.get("grant_type") == "authorization_code"
            and form.get("redirect_uri") == grant.redirect_uri
            and client_id == grant.client_id
            and s256(form.get("code_verifier", "")) == grant.challenge
        )
        if grant is not None:
            grant.used = True  # a code is good for one try, whatever happens
        if not valid or grant is None:
            self._json(400, {"error": "invalid_grant"})
            return
        token = secrets.token_urlsafe(32)
        self.double.tokens[token] = grant.patient
        self._json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": grant.scope,
                "patient": grant.patient,
            },
        )

    def _fhir(self, path: str, query: str) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.double.tokens:
            self._json(401, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]})
            return
        upstream = requests.get(
            f"{self.double.upstream}{path}" + (f"?{query}" if query else ""),
            headers={"Authorization": f"Bearer {self.double.upstream_token}", "Accept": "application/fhir+json"},
            timeout=10,
        )
        body = upstream.text.replace(self.double.upstream, self.double.iss)  # paging links point at the iss
        self._send(upstream.status_code, body.encode(), "application/fhir+json")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _authorize_problem(double: DoubleState, query: dict[str, str]) -> str | None:
    scopes = set(query.get("scope", "").split())
    if query.get("response_type") != "code" or not query.get("state"):
        return "invalid_request"
    if query.get("aud") != double.iss or query.get("launch") not in double.launches:
        return "invalid_request"
    if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) != 43:
        return "invalid_request"
    if not scopes >= REQUIRED_SCOPES:
        return "invalid_scope"
    return None


def _basic_user(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    return base64.b64decode(value).decode().partition(":")[0]
