"""Bounded JSON over HTTP to the EHR's authorisation server: one deadline, a size cap, no redirects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from service.fhir.client import Deadline
from service.fhir.errors import FhirUnavailable
from service.smart.errors import UpstreamUnavailable
from service.urls import is_loopback_host


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    deadline_seconds: float
    max_bytes: int


def check_endpoint(url: object, what: str) -> str:
    """An absolute https URL (http only on loopback), without credentials or fragment."""
    parts = urlsplit(url if isinstance(url, str) else "")
    secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))
    if not parts.hostname or not secure or parts.username or parts.password or parts.fragment:
        raise UpstreamUnavailable(f"the {what} is not an https URL")
    return str(url)


def get_json(session: requests.Session, url: str, limits: Limits) -> dict[str, Any]:
    return _call(session, "GET", url, limits, {})


def post_form(
    session: requests.Session, url: str, form: dict[str, str], limits: Limits, auth: tuple[str, str] | None
) -> dict[str, Any]:
    return _call(session, "POST", url, limits, {"data": form, "auth": auth})


def _call(session: requests.Session, method: str, url: str, limits: Limits, extra: dict[str, Any]) -> dict[str, Any]:
    deadline = Deadline(limits.deadline_seconds)
    try:
        with session.request(
            method,
            url,
            headers={"Accept": "application/json"},
            timeout=deadline.timeout(limits.timeout_seconds),
            allow_redirects=False,
            stream=True,
            **extra,
        ) as response:
            body = _read(response, limits.max_bytes, deadline, limits.timeout_seconds)
            status = response.status_code
    except (requests.RequestException, FhirUnavailable) as error:
        raise UpstreamUnavailable("the EHR's authorisation server could not be reached in time") from error
    return _decode(status, body)


def _read(response: requests.Response, max_bytes: int, deadline: Deadline, per_read: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamUnavailable("the EHR's authorisation server answered too much data")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16384):
        deadline.timeout(per_read)  # raises once the whole answer has taken too long
        size += len(chunk)
        if size > max_bytes:
            raise UpstreamUnavailable("the EHR's authorisation server answered too much data")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(status: int, body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if status == 400 and isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return {"error": payload["error"]}  # an OAuth error: the caller decides what it means
    if status != 200 or not isinstance(payload, dict):
        raise UpstreamUnavailable(f"the EHR's authorisation server answered HTTP {status} without a JSON object")
    return payload
