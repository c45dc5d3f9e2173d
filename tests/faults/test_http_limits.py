"""Limits answered as JSON on the real server (issue 12 item 9): chunked bodies, huge headers, slow clients."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import free_port, running

READ_TIMEOUT = 1.0
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`crs-cds serve` (gunicorn, one worker) with a 1 s read timeout and a 64 KiB body limit."""
    folder = tmp_path_factory.mktemp("limits")
    port = free_port()
    env = {
        **os.environ,
        "CRS_CDS_AUTH": "off",
        "CRS_CDS_WORKERS": "1",
        "CRS_CDS_DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "CRS_CDS_CLIENT_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "CRS_CDS_MAX_BODY_BYTES": str(MAX_BODY),
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    cli = str(Path(sys.executable).with_name("crs-cds"))
    with running([cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env, f"http://127.0.0.1:{port}/healthz"):
        yield f"http://127.0.0.1:{port}", port


def test_item9_a_chunked_body_over_the_limit_is_413_json(server: tuple[str, int]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"feedback": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = requests.post(
        f"{server[0]}/cds-services/crs-patient-view/feedback",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "request_entity_too_large"


def test_item9_a_chunked_body_within_the_limit_still_works(server: tuple[str, int]) -> None:
    body = b'{"feedback": [{"card": "c-1", "outcome": "accepted"}]}'

    response = requests.post(
        f"{server[0]}/cds-services/crs-patient-view/feedback",
        data=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 200
    assert response.json()["stored"] == 1


def test_item9_a_token_over_8_kb_gets_431_as_json(server: tuple[str, int]) -> None:
    response = requests.get(f"{server[0]}/cds-services", headers={"Authorization": "Bearer " + "a" * 9000}, timeout=5)

    assert response.status_code == 431
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "headers_too_large"


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
        b"POST /cds-services/crs-patient-view/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",  # body never finished
    ],
    ids=["head", "body"],
)
def test_item9_a_slow_client_loses_its_thread_after_the_read_timeout(server: tuple[str, int], partial: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server[1]), timeout=READ_TIMEOUT + 3) as client:
        client.sendall(partial)
        started = time.monotonic()
        answer = client.recv(65536)
        while answer.startswith(b"HTTP/1.1 4") and client.recv(65536):  # an error answer, then the close
            pass
        seconds = time.monotonic() - started

    assert READ_TIMEOUT - 0.2 < seconds < READ_TIMEOUT + 1.5
    assert answer == b"" or b"application/json" in answer
