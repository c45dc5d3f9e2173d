"""Servers the integration tests start themselves."""

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
