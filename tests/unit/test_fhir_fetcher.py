"""The pooled session survives a server that drops a connection (a stale keep-alive)."""

from __future__ import annotations

import socket
import threading

from service.fhir.client import Deadline
from service.fhir.fetcher import FhirFetcher, pooled_session

BUNDLE = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'


def flaky_server() -> tuple[int, list[int]]:
    """Drops the first connection after reading the request; answers the second."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    seen: list[int] = []

    def serve() -> None:
        for attempt in range(2):
            connection, _ = listener.accept()
            connection.recv(65536)
            seen.append(attempt)
            if attempt == 1:
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(BUNDLE), BUNDLE)
                )
            connection.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1]), seen


def test_a_dropped_connection_is_retried_once_for_a_get() -> None:
    port, seen = flaky_server()
    fetcher = FhirFetcher(pooled_session(2), max_workers=2, timeout_seconds=3, deadline_seconds=5, max_pages=3)

    result = fetcher.client(f"http://127.0.0.1:{port}/fhir", "token").search("Observation?patient=p", Deadline(5))

    assert result.resources == []
    assert seen == [0, 1]
