"""`crs-cds serve` starts gunicorn and answers over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import hook_body


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
def served_url() -> Iterator[str]:
    port = free_port()
    cli = Path(sys.executable).with_name("crs-cds")
    env = {**os.environ, "CRS_CDS_WORKERS": "1"}
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


def test_served_discovery_and_probes(served_url: str) -> None:
    assert requests.get(f"{served_url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{served_url}/readyz", timeout=5).status_code == 200
    services = requests.get(f"{served_url}/cds-services", timeout=5).json()["services"]
    assert len(services) == 3


def test_served_hook_call(served_url: str) -> None:
    response = requests.post(f"{served_url}/cds-services/crs-patient-view", json=hook_body(), timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
