"""Runs the FHIR queries of one hook call in parallel under one deadline, with a bulkhead per FHIR host.

Each FHIR host (scheme, host and port) gets its own bounded thread pool and circuit breaker: a host that
drips or hangs fills only its own pool, and after a few failures in a row its callers fail at once instead
of waiting for the deadline, so calls to every other host go on unharmed. The hosts are the configured FHIR
servers only (a ``fhirServer`` is checked against the caller's allowlist before a client is made).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from service.fhir.client import Deadline, FetchLimits, FhirClient, SearchResult
from service.fhir.errors import FhirError, FhirUnavailable
from service.fhir.fields import FhirResource
from service.outbound import CircuitBreaker

T = TypeVar("T")
Query = Callable[[FhirClient, Deadline], T]
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
POOLED_HOSTS = 32


def read_query(url: str) -> Query[SearchResult]:
    """A read (``Patient/123``) as a search result of zero or one resource."""

    def run(client: FhirClient, deadline: Deadline) -> SearchResult:
        resource = client.read(url, deadline)
        return SearchResult(resources=[resource] if resource else [])

    return run


def search_query(url: str) -> Query[SearchResult]:
    return lambda client, deadline: client.search(url, deadline)


def pooled_session(pool_size: int) -> requests.Session:
    """One session for the process: keeps up to ``pool_size`` connections alive per host across calls."""
    session = requests.Session()
    # One retry of a GET whose connection dropped: a pooled keep-alive connection the server closed just as
    # it was reused fails at once otherwise. GETs are idempotent; the overall deadline still bounds the wait.
    retry = StaleConnectionRetry(
        total=1, connect=1, read=1, status=0, other=0, allowed_methods=frozenset({"GET"}), raise_on_status=False
    )
    adapter = HTTPAdapter(pool_connections=POOLED_HOSTS, pool_maxsize=pool_size, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # proxies and .netrc from the environment must not redirect PHI
    return session


class StaleConnectionRetry(Retry):
    """Retries a dropped connection, never a read timeout: a slow server must not cost the deadline twice."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


@dataclass(frozen=True)
class _Host:
    executor: ThreadPoolExecutor
    breaker: CircuitBreaker


class FhirFetcher:
    """Creates clients on the shared session and runs their queries concurrently on their host's pool."""

    def __init__(
        self,
        session: requests.Session,
        *,
        max_workers: int,
        timeout_seconds: float,
        deadline_seconds: float,
        max_pages: int,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        breaker_failures: int = 5,
        breaker_cooldown_seconds: float = 15.0,
    ) -> None:
        self._session = session
        self._max_workers = max_workers
        self._limits = FetchLimits(timeout_seconds, max_pages, max_response_bytes)
        self._deadline_seconds = deadline_seconds
        self._breaker = (breaker_failures, breaker_cooldown_seconds)
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def client(self, base_url: str, access_token: str | None) -> FhirClient:
        """A client for an allowed FHIR base URL (the caller checks the allowlist first)."""
        return FhirClient(
            base_url, access_token, session=self._session, limits=self._limits, breaker=self._host(base_url).breaker
        )

    def deadline(self) -> Deadline:
        """A fresh overall deadline of ``CRS_CDS_FHIR_DEADLINE_SECONDS``, to share between several runs."""
        return Deadline(self._deadline_seconds)

    def run(
        self, client: FhirClient, queries: Mapping[str, Query[T]], deadline: Deadline | None = None
    ) -> dict[str, T | FhirError]:
        """Each query's result or its FhirError; a query still running at the deadline is unavailable."""
        deadline = deadline or self.deadline()
        executor = self._host(client.base_url).executor
        futures: dict[str, Future[T]] = {
            key: executor.submit(query, client, deadline) for key, query in queries.items()
        }
        wait(futures.values(), timeout=max(deadline.remaining(), 0))
        return {key: _outcome(future) for key, future in futures.items()}

    def read_references(
        self, client: FhirClient, references: Iterable[str], deadline: Deadline | None = None
    ) -> dict[str, FhirResource | FhirError | None]:
        """Read single resources by relative reference (``Medication/abc``), one request per distinct reference.

        The reads run in parallel on the host's bounded pool, under ``deadline`` (pass the hook call's own to
        share its budget; a new one otherwise), with the client's token, size limit and circuit breaker; every
        URL stays under the client's base URL. Each value is the resource, None when the server says it does
        not exist (404/410), or a FhirError: FhirBadReference when the reference is not ``Type/id`` with a
        valid FHIR id (checked before any URL is built; ``.`` and ``..`` are refused).
        """
        queries: dict[str, Query[FhirResource | None]] = {
            reference: _read_query(reference) for reference in dict.fromkeys(references)
        }
        return self.run(client, queries, deadline)

    def _host(self, base_url: str) -> _Host:
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            host = self._hosts.get(origin)
            if host is None:
                executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix=f"fhir-{len(self._hosts)}")
                host = self._hosts[origin] = _Host(executor, CircuitBreaker(*self._breaker))
            return host


def _read_query(reference: str) -> Query[FhirResource | None]:
    return lambda client, deadline: client.read(reference, deadline)


def _outcome(future: Future[Any]) -> Any:
    if not future.done():
        future.cancel()
        return FhirUnavailable("the FHIR server did not answer before the deadline")
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, FhirError):
        return error
    # A bug in a query must not look like a FHIR outage to the caller; re-raise it.
    raise error
