"""The synthetic patients of ``fhir_fixtures/``: shifted to now, and loaded into any FHIR R4 server.

Each fixture is a transaction Bundle whose ``timestamp`` is its anchor: every date-time in it is moved by
(now - anchor) at load time, so a fixture written once stays a current chart. Dates without a time
(birth dates) are not moved. Loading tries a transaction, falls back to a batch, then to one PUT per
resource, because public sandboxes differ in what they accept.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from service.fhir.fields import FhirResource
from service.settings import PROJECT_ROOT

FIXTURES_DIR = PROJECT_ROOT / "fhir_fixtures"
TIME_KEYS = frozenset(
    {"effectiveDateTime", "effectiveInstant", "authoredOn", "issued", "start", "end", "recorded", "timestamp"}
)
REFUSED_TRANSACTION = frozenset({400, 403, 404, 405, 409, 412, 422, 501})


class FixtureLoadError(Exception):
    """The FHIR server refused a fixture in every form; the message says how it answered."""


def fixture_paths(directory: Path = FIXTURES_DIR) -> list[Path]:
    return sorted(path for path in directory.glob("*.json") if not path.name.startswith("index"))


def read_fixture(path: Path) -> FhirResource:
    bundle: FhirResource = json.loads(path.read_text(encoding="utf-8"))
    return bundle


def anchor_of(bundle: FhirResource) -> datetime:
    return datetime.fromisoformat(str(bundle["timestamp"]).replace("Z", "+00:00"))


def shifted(bundle: FhirResource, now: datetime) -> FhirResource:
    """A copy with every date-time moved so that the anchor becomes ``now``."""
    delta = now - anchor_of(bundle)
    copied = copy.deepcopy(bundle)
    _shift(copied, delta)
    return copied


def _shift(value: Any, delta: timedelta) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TIME_KEYS and isinstance(item, str) and "T" in item:
                value[key] = _moved(item, delta)
            else:
                _shift(item, delta)
    elif isinstance(value, list):
        for item in value:
            _shift(item, delta)


def _moved(text: str, delta: timedelta) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + delta
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def resources_of(bundle: FhirResource) -> Iterator[FhirResource]:
    for entry in bundle.get("entry", []):
        if isinstance(entry.get("resource"), dict):
            yield entry["resource"]


@dataclass(frozen=True)
class LoadResult:
    name: str
    patient_ids: tuple[str, ...]
    method: str  # transaction, batch or put


class FixtureLoader:
    def __init__(
        self, fhir_server: str, token: str | None = None, session: requests.Session | None = None, timeout: float = 60
    ) -> None:
        self.base = fhir_server.rstrip("/")
        self.session = session or requests.Session()
        self.headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def load(self, path: Path, now: datetime) -> LoadResult:
        bundle = shifted(read_fixture(path), now)
        patients = tuple(r["id"] for r in resources_of(bundle) if r.get("resourceType") == "Patient")
        for method, attempt in (("transaction", self._transaction), ("batch", self._batch), ("put", self._puts)):
            if attempt(bundle):
                return LoadResult(path.stem, patients, method)
        raise FixtureLoadError(f"{path.name}: the FHIR server refused the transaction, the batch and the PUTs")

    def _post(self, bundle: FhirResource) -> requests.Response:
        return self.session.post(self.base, json=bundle, headers=self.headers, timeout=self.timeout)

    def _transaction(self, bundle: FhirResource) -> bool:
        response = self._post(bundle)
        if response.status_code in REFUSED_TRANSACTION:
            return False
        self._raise_unless_ok(response, "transaction")
        return True

    def _batch(self, bundle: FhirResource) -> bool:
        response = self._post({**bundle, "type": "batch"})
        if response.status_code in REFUSED_TRANSACTION:
            return False
        self._raise_unless_ok(response, "batch")
        statuses = [str(entry.get("response", {}).get("status", "")) for entry in response.json().get("entry", [])]
        return all(status.startswith("2") for status in statuses)

    def _puts(self, bundle: FhirResource) -> bool:
        for resource in resources_of(bundle):
            url = f"{self.base}/{resource['resourceType']}/{resource['id']}"
            response = self.session.put(url, json=resource, headers=self.headers, timeout=self.timeout)
            self._raise_unless_ok(response, f"PUT {resource['resourceType']}/{resource['id']}")
        return True

    @staticmethod
    def _raise_unless_ok(response: requests.Response, what: str) -> None:
        if not 200 <= response.status_code < 300:
            raise FixtureLoadError(f"{what} answered HTTP {response.status_code}: {response.text[:300]}")
