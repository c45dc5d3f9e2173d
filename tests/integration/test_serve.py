"""`crs-cds serve` starts gunicorn and answers over real HTTP."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import responses
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from service.cli import main
from tests import fhir_builders
from tests.conftest import FHIR_BASE, PATIENT_ID, hook_body
from tests.fhir_builders import bp, car_t, device, patient, temp, weight
from tests.jwt_support import ISSUER, KID_EC, EhrKeys


def signed(keys: EhrKeys, url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.sign(url)}"}


def test_served_discovery_and_probes(served_url: str, ehr_keys: EhrKeys) -> None:
    assert requests.get(f"{served_url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{served_url}/readyz", timeout=5).status_code == 200
    url = f"{served_url}/cds-services"
    services = requests.get(url, headers=signed(ehr_keys, url), timeout=5).json()["services"]
    assert len(services) == 3


def test_served_unsigned_call_is_refused_and_signed_call_succeeds(served_url: str, ehr_keys: EhrKeys) -> None:
    url = f"{served_url}/cds-services/crs-patient-view"

    unsigned = requests.post(url, json=hook_body(), timeout=5)
    signed_call = requests.post(url, json=hook_body(), headers=signed(ehr_keys, url), timeout=5)

    assert unsigned.status_code == 401
    assert unsigned.json() == {"error": "unauthorized", "message": "authentication required"}
    assert signed_call.status_code == 200
    assert signed_call.headers["Content-Type"] == "application/json"


def test_parallel_feedback_from_several_workers_loses_nothing_and_stores_nothing_twice(
    served_url: str, database_path: Path, ehr_keys: EhrKeys
) -> None:
    items = [
        {"card": f"card-{n}", "outcome": "accepted", "outcomeTimestamp": f"2026-11-20T10:{n % 60:02d}:00Z"}
        for n in range(60)
    ]
    posts = [[item] for item in items] * 2  # every item posted twice, in parallel, across the workers

    url = f"{served_url}/cds-services/crs-patient-view/feedback"

    def post(batch: list[dict[str, str]]) -> dict[str, int]:
        response = requests.post(url, json={"feedback": batch}, headers=signed(ehr_keys, url), timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(post, posts))

    assert sum(result["stored"] for result in results) == 60
    assert sum(result["duplicates"] for result in results) == 60
    with sqlite3.connect(database_path) as connection:
        assert connection.execute("SELECT COUNT(*), COUNT(DISTINCT card_uuid) FROM feedback").fetchone() == (60, 60)


def test_parallel_hook_calls_each_write_their_audit_row(
    served_url: str, database_path: Path, ehr_keys: EhrKeys
) -> None:
    url = f"{served_url}/cds-services/crs-patient-view"

    def call(n: int) -> int:
        body = hook_body(hookInstance=f"parallel-{n}")
        return requests.post(url, json=body, headers=signed(ehr_keys, url), timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(call, range(40)))

    assert statuses == [200] * 40
    assert parallel_audit_rows_within(database_path, seconds=3) == (40, 40)  # written by each worker's thread


def parallel_audit_rows_within(database_path: Path, seconds: float) -> tuple[int, int]:
    """(rows, distinct hook instances) of the parallel calls, once all 40 are in or ``seconds`` have passed."""
    ends_at = time.monotonic() + seconds
    while True:
        with sqlite3.connect(database_path) as connection:
            found = connection.execute(
                "SELECT COUNT(*), COUNT(DISTINCT hook_instance) FROM audit WHERE hook_instance LIKE 'parallel-%'"
            ).fetchone()
        if found[0] >= 40 or time.monotonic() > ends_at:
            return (int(found[0]), int(found[1]))
        time.sleep(0.05)


@responses.activate
def test_crs_cds_call_acts_as_a_signed_ehr_with_prefetch(
    served_url: str, ehr_keys: EhrKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`crs-cds call`: discovery, prefetch from the FHIR server, a signed call, readable cards."""
    monkeypatch.setattr(fhir_builders, "NOW", datetime.now(UTC))  # the served app runs on the real clock
    responses.add_passthru(served_url)
    chart = [patient(), car_t(hours_ago=96), weight(70), temp(1, 38.8), bp(1, 84), device(1, "non-rebreather")]
    by_type = {
        kind: [r for r in chart if r["resourceType"] == kind] for kind in ("Observation", "MedicationAdministration")
    }
    responses.get(f"{FHIR_BASE}/Patient/{PATIENT_ID}", json=chart[0])
    for kind, resources in {**by_type, "MedicationRequest": []}.items():
        responses.get(
            f"{FHIR_BASE}/{kind}",
            json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]},
        )
    key = tmp_path / "ehr.pem"
    key.write_bytes(
        ehr_keys.ec_private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    args = [
        "call",
        "--service",
        served_url,
        "--patient",
        PATIENT_ID,
        "--fhir-server",
        FHIR_BASE,
        "--sign-with",
        str(key),
        "--issuer",
        ISSUER,
        "--kid",
        KID_EC,
    ]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    assert "[CRITICAL] CRS grade 3: tocilizumab 560 mg IV + dexamethasone 10 mg IV q6h; ICU now" in result.output
    assert "-> Order tocilizumab 560 mg IV (recommended): Tocilizumab 560 mg IV over 60 min" in result.output
    assert "Immediate ICU admission required" in result.output
    assert "**" not in result.output  # Markdown rendered for the terminal


def test_crs_cds_call_unsigned_is_refused(served_url: str) -> None:
    result = CliRunner().invoke(main, ["call", "--service", served_url, "--patient", PATIENT_ID])

    assert result.exit_code == 1
    assert "answered 401" in result.output


def test_metrics_add_up_across_gunicorn_workers(served_url: str, ehr_keys: EhrKeys) -> None:
    """Three workers answer; /metrics (served by any one) counts the calls of all of them."""
    from prometheus_client.parser import text_string_to_metric_families

    def discovery_count() -> float:
        text = requests.get(f"{served_url}/metrics", timeout=5).text
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "crs_cds_requests_total" and s.labels == {"endpoint": "discovery.discovery", "status": "200"}
        )

    before = discovery_count()
    url = f"{served_url}/cds-services"
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _n: requests.get(url, headers=signed(ehr_keys, url), timeout=10), range(30)))

    assert discovery_count() - before == 30
