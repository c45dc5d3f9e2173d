"""`crs-cds serve` starts gunicorn and answers over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import hook_body
from tests.jwt_support import EhrKeys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    ends_at = time.monotonic() + seconds
    while time.monotonic() < ends_at:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


@pytest.fixture(scope="module")
def database_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served") / "crs-cds.sqlite3"


@pytest.fixture(scope="module")
def served_url(database_path: Path, clients_file: Path) -> Iterator[str]:
    """`crs-cds serve` with three gunicorn workers sharing one SQLite database (migrated at start),
    authentication on, trusting the test EHR."""
    port = free_port()
    cli = Path(sys.executable).with_name("crs-cds")
    env = {
        **os.environ,
        "CRS_CDS_WORKERS": "3",
        "CRS_CDS_DATABASE_URL": f"sqlite:///{database_path}",
        "CRS_CDS_CLIENTS": str(clients_file),
        "CRS_CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/healthz", process)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


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
    with sqlite3.connect(database_path) as connection:
        after = connection.execute(
            "SELECT COUNT(*), COUNT(DISTINCT hook_instance) FROM audit WHERE hook_instance LIKE 'parallel-%'"
        ).fetchone()
    assert after == (40, 40)
