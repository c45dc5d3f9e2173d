"""The pooled session survives a dropped connection; references are read once each; the breaker opens and heals."""

from __future__ import annotations

import socket
import threading

from service.fhir.client import Deadline
from service.fhir.errors import FhirBadReference
from service.fhir.fetcher import FhirFetcher, pooled_session
from service.outbound import CircuitBreaker

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


def test_read_references_reads_each_distinct_reference_once_and_checks_ids_before_any_url() -> None:
    from tests.faults.hostile import HostileFhirServer

    server = HostileFhirServer()
    try:
        fetcher = FhirFetcher(pooled_session(2), max_workers=2, timeout_seconds=2, deadline_seconds=3, max_pages=3)
        client = fetcher.client(server.base("healthy"), "token")

        results = fetcher.read_references(
            client, ["Medication/m-1", "Medication/m-2", "Medication/m-1", "Medication/..", "Medication/a b"]
        )
    finally:
        server.close()

    assert results["Medication/m-1"] == {"resourceType": "Medication", "id": "m-1"}
    assert results["Medication/m-2"] == {"resourceType": "Medication", "id": "m-2"}
    assert isinstance(results["Medication/.."], FhirBadReference)
    assert isinstance(results["Medication/a b"], FhirBadReference)
    assert sorted(path for path, _ in server.record.requests) == ["/healthy/Medication/m-1", "/healthy/Medication/m-2"]
    assert all(with_token for _, with_token in server.record.requests)


def test_the_breaker_opens_after_failures_in_a_row_and_lets_one_trial_through_after_the_cooldown() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=10, monotonic=lambda: clock[0])
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.allow()  # one failure in a row so far
    breaker.failed()
    assert not breaker.allow()

    clock[0] = 10.0
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # the others still fail fast while it runs
    breaker.succeeded()
    assert breaker.allow()
