"""Acting as an EHR: discovery, prefetch resolved against a FHIR server, a signed hook call, cards printed.

Used by ``crs-cds call`` so that an informatics team can exercise the service against a FHIR sandbox, and
by the README to show an authenticated call.
"""

from __future__ import annotations

import io
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from rich.console import Console
from rich.markdown import Markdown
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text

from service.fhir.client import Deadline, FetchLimits, FhirClient
from service.fhir.errors import FhirError
from service.hooks.services import MissingToken, fill_prefetch_template
from service.outbound import CircuitBreaker

READ_SCOPES = " ".join(
    f"user/{kind}.read" for kind in ("Patient", "Observation", "MedicationAdministration", "MedicationRequest")
)


class SimulatorError(Exception):
    """A step of the simulated EHR failed; the message says which and why."""


@dataclass(frozen=True)
class Signer:
    """Signs CDS Hooks JWTs with a private key PEM (EC P-384 -> ES384, RSA -> RS384)."""

    key: Any
    issuer: str
    kid: str

    @classmethod
    def from_pem(cls, path: Path, issuer: str, kid: str) -> Signer:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SimulatorError(f"{path}: only EC and RSA private keys are supported")
        return cls(key, issuer, kid)

    @property
    def algorithm(self) -> str:
        return "ES384" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "RS384"

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": audience, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.kid, "typ": "JWT"})


@dataclass
class HookCall:
    service_url: str
    hook: str
    patient_id: str
    fhir_server: str | None = None
    fhir_token: str | None = None
    user_id: str = "Practitioner/crs-cds-cli"
    draft_orders: list[dict[str, Any]] = field(default_factory=list)
    prefetch: bool = True
    signer: Signer | None = None
    timeout: float = 30.0


def call_service(call: HookCall, session: requests.Session | None = None) -> dict[str, Any]:
    """Run discovery, resolve prefetch (unless disabled), and post the hook; returns the CDS response."""
    http = session or requests.Session()
    base = call.service_url.rstrip("/")
    discovery = _get_json(http, f"{base}/cds-services", call, signed=True)
    service = next((s for s in discovery.get("services", []) if s.get("hook") == call.hook), None)
    if service is None:
        raise SimulatorError(f"discovery at {base}/cds-services lists no {call.hook} service")
    body = hook_request(call)
    if call.fhir_server:
        _check_patient_exists(http, call)
    if call.prefetch and call.fhir_server:
        body["prefetch"] = resolve_prefetch(http, service.get("prefetch", {}), body["context"], call)
    url = f"{base}/cds-services/{service['id']}"
    response = http.post(url, json=body, headers=_headers(call, url), timeout=call.timeout)
    if response.status_code != 200:
        raise SimulatorError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


def hook_request(call: HookCall) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": call.user_id, "patientId": call.patient_id}
    if call.hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in call.draft_orders],
        }
    if call.hook == "order-select":
        context["selections"] = [f"{r['resourceType']}/{r['id']}" for r in call.draft_orders if r.get("id")]
    body: dict[str, Any] = {"hook": call.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if call.fhir_server:
        body["fhirServer"] = call.fhir_server
        if call.fhir_token:
            body["fhirAuthorization"] = {
                "access_token": call.fhir_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": READ_SCOPES,
                "subject": "crs-cds",
            }
    return body


def resolve_prefetch(
    http: requests.Session, templates: dict[str, str], context: dict[str, Any], call: HookCall
) -> dict[str, Any]:
    """Each template with its tokens replaced, read from the FHIR server; pages merged as one Bundle.

    The service's own FHIR client does the reading (paging, host checks, size limits), as an EHR would.
    """
    client, deadline = _fhir_client(http, call), Deadline(call.timeout)
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        try:
            query = fill_prefetch_template(template, context)
        except MissingToken as error:
            raise SimulatorError(f"prefetch {key}: {error}") from error
        prefetch[key] = _prefetch_value(client, query, deadline)
    return prefetch


def _fhir_client(http: requests.Session, call: HookCall) -> FhirClient:
    limits = FetchLimits(timeout_seconds=call.timeout, max_pages=50, max_response_bytes=64 * 1024 * 1024)
    return FhirClient(
        call.fhir_server or "", call.fhir_token, session=http, limits=limits, breaker=CircuitBreaker(3, 5)
    )


def _prefetch_value(client: FhirClient, query: str, deadline: Deadline) -> dict[str, Any] | None:
    try:
        if "?" not in query:
            return client.read(query, deadline)
        found = client.search(query, deadline)
    except FhirError as error:
        raise SimulatorError(f"GET {query}: {error}") from error
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found.resources]}


def _check_patient_exists(http: requests.Session, call: HookCall) -> None:
    """A misspelt patient id must read as such, not as a patient without cards (out of scope)."""
    if _prefetch_value(_fhir_client(http, call), f"Patient/{call.patient_id}", Deadline(call.timeout)) is None:
        raise SimulatorError(f"no Patient/{call.patient_id} on the FHIR server {call.fhir_server}: check the id")


def _get_json(http: requests.Session, url: str, call: HookCall, *, signed: bool) -> dict[str, Any]:
    response = http.get(url, headers=_headers(call, url) if signed else {}, timeout=call.timeout)
    if response.status_code != 200:
        raise SimulatorError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    result: dict[str, Any] = response.json()
    return result


def _headers(call: HookCall, url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {call.signer.token(url)}"} if call.signer else {}


INDICATOR_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "bold blue"}


def format_cards(response: dict[str, Any], *, width: int = 100, color: bool | None = None) -> str:
    """The cards as a clinician would scan them: indicator and summary, suggestions with doses, then the detail's
    Markdown rendered for a terminal (``rich``: bold, lists; colour when writing to a terminal), source and links."""
    cards = response.get("cards", [])
    if not cards:
        return "No cards (the patient is out of scope, or no order needs a warning)."
    colour = sys.stdout.isatty() if color is None else color
    console = Console(file=io.StringIO(), width=width, force_terminal=colour, no_color=not colour, highlight=False)
    for index, card in enumerate(cards):
        if index:
            console.print(Rule(style="dim"))
        _print_card(console, card)
    output = str(console.file.getvalue())  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines()).rstrip("\n")


def _print_card(console: Console, card: dict[str, Any]) -> None:
    indicator = str(card.get("indicator", "info"))
    console.print(Text(f"[{indicator.upper()}] {card.get('summary', '')}", style=INDICATOR_STYLE.get(indicator, "")))
    for suggestion in card.get("suggestions", []):
        action = suggestion["actions"][0]
        recommended = " (recommended)" if suggestion.get("isRecommended") else ""
        offer = Text(f"-> {suggestion['label']}{recommended}: {action.get('description', '')}")
        console.print(Padding(offer, (0, 0, 0, 2)))
    console.print()
    console.print(Padding(Markdown(str(card.get("detail", ""))), (0, 0, 0, 2)))
    source = card.get("source", {})
    lines = [f"Source: {source.get('label', '')} <{source.get('url', '')}>"] if source else []
    lines += [f"Link: {link['label']} <{link['url']}>" for link in card.get("links", [])]
    for line in lines:
        console.print(Padding(Text(line, style="dim"), (0, 0, 0, 2)))
