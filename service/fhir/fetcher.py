"""Runs several FHIR queries of one hook call in parallel on one pooled session, under one deadline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from service.fhir.client import Deadline, FhirClient, SearchResult
from service.fhir.errors import FhirError, FhirUnavailable

T = TypeVar("T")
Query = Callable[[FhirClient, Deadline], T]


def read_query(url: str) -> Query[SearchResult]:
    """A read (``Patient/123``) as a search result of zero or one resource."""

    def run(client: FhirClient, deadline: Deadline) -> SearchResult:
        resource = client.read(url, deadline)
        return SearchResult(resources=[resource] if resource else [])

    return run


def search_query(url: str) -> Query[SearchResult]:
    return lambda client, deadline: client.search(url, deadline)


def pooled_session(pool_size: int) -> requests.Session:
    """One session for the process: keeps connections to the EHR's FHIR server alive across calls."""
    session = requests.Session()
    # One retry of a GET whose connection dropped: a pooled keep-alive connection the server closed just as
    # it was reused fails at once otherwise. GETs are idempotent; the overall deadline still bounds the wait.
    retry = Retry(
        total=1, connect=1, read=1, status=0, other=0, allowed_methods=frozenset({"GET"}), raise_on_status=False
    )
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # proxies and .netrc from the environment must not redirect PHI
    return session


class FhirFetcher:
    """Creates clients on the shared session and runs their queries concurrently."""

    def __init__(
        self,
        session: requests.Session,
        *,
        max_workers: int,
        timeout_seconds: float,
        deadline_seconds: float,
        max_pages: int,
    ) -> None:
        self._session = session
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fhir")
        self._timeout_seconds = timeout_seconds
        self._deadline_seconds = deadline_seconds
        self._max_pages = max_pages

    def client(self, base_url: str, access_token: str | None) -> FhirClient:
        return FhirClient(
            base_url,
            access_token,
            session=self._session,
            timeout_seconds=self._timeout_seconds,
            max_pages=self._max_pages,
        )

    def run(self, client: FhirClient, queries: Mapping[str, Query[T]]) -> dict[str, T | FhirError]:
        """Each query's result or its FhirError; a query still running at the deadline is unavailable."""
        deadline = Deadline(self._deadline_seconds)
        futures: dict[str, Future[T]] = {
            key: self._executor.submit(query, client, deadline) for key, query in queries.items()
        }
        wait(futures.values(), timeout=max(deadline.remaining(), 0))
        return {key: _outcome(future) for key, future in futures.items()}


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
