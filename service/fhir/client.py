"""A FHIR R4 REST client for one server and one bearer token, with hard bounds on every answer.

The ``requests.Session`` is injected: the app shares one pooled session across requests, and tests
can mount their own adapter or intercept with ``responses``. Every request has a wall-clock deadline that
covers its whole body (the caller's overall deadline), a size limit on the decompressed body, and goes
through the host's circuit breaker. Every URL is normalised and must lie under the base URL before it is
requested (the bearer token never leaves the allowed server); every failure becomes one of the exceptions
in ``service.fhir.errors``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests
import urllib3

from service.fhir.bundles import (
    bundle_resources,
    is_operation_outcome,
    is_resource,
    next_link,
    outcome_code,
)
from service.fhir.errors import (
    FhirBadReference,
    FhirBadResponse,
    FhirError,
    FhirNotFound,
    FhirUnauthorized,
    FhirUnavailable,
)
from service.fhir.fields import FhirResource
from service.outbound import CircuitBreaker, DeadlineExceeded, ResponseTooLarge, read_body
from service.urls import is_within, normalise_base_url, normalise_url

FHIR_JSON = "application/fhir+json"
REFERENCE = re.compile(r"[A-Z][A-Za-z]{0,63}/[A-Za-z0-9\-.]{1,64}")


def check_reference(reference: str) -> str:
    """``Type/id`` with an id of FHIR syntax and never ``.`` or ``..`` (they would read the base or a type)."""
    if not REFERENCE.fullmatch(reference) or reference.rpartition("/")[2] in (".", ".."):
        raise FhirBadReference("not a reference of the form Type/id with a valid FHIR id")
    return reference


class Deadline:
    """An overall time budget shared by the requests of one hook call."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.ends_at = monotonic() + seconds

    def remaining(self) -> float:
        return self.ends_at - self._monotonic()

    def timeout(self, per_request: float) -> float:
        """The timeout for the next request: the per-request limit, never past the deadline."""
        remaining = self.remaining()
        if remaining <= 0:
            raise FhirUnavailable("the overall deadline for FHIR requests passed")
        return min(per_request, remaining)


@dataclass(frozen=True)
class FetchLimits:
    """``timeout_seconds`` per read; ``max_response_bytes`` per answer, decompressed; ``max_pages`` per search."""

    timeout_seconds: float
    max_pages: int
    max_response_bytes: int


@dataclass
class SearchResult:
    """The resources of a search across its pages; ``complete`` is False when paging stopped early."""

    resources: list[FhirResource] = field(default_factory=list)
    complete: bool = True
    pages: int = 0


class FhirClient:
    """Reads and searches one FHIR server; ``access_token`` is sent as a bearer token when given."""

    def __init__(
        self,
        base_url: str,
        access_token: str | None,
        *,
        session: requests.Session,
        limits: FetchLimits,
        breaker: CircuitBreaker,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self._headers = {"Accept": FHIR_JSON}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._session = session
        self._limits = limits
        self._breaker = breaker

    def read(self, reference: str, deadline: Deadline) -> FhirResource | None:
        """A read (``Patient/123``); None when the server says the resource does not exist."""
        try:
            resource = self._get(self._absolute(check_reference(reference)), deadline)
        except FhirNotFound:
            return None
        if is_operation_outcome(resource):
            raise FhirBadResponse(f"OperationOutcome ({outcome_code(resource)}) instead of a resource")
        return resource

    def search(self, relative_url: str, deadline: Deadline) -> SearchResult:
        """A type-level search, following ``next`` links up to the page cap."""
        bundle = self._get(self._absolute(relative_url), deadline)
        if not is_resource(bundle, "Bundle"):
            raise FhirBadResponse(f"expected a Bundle, got {bundle.get('resourceType')!r}")
        return self.continue_search(bundle, deadline)

    def continue_search(self, first_page: FhirResource, deadline: Deadline) -> SearchResult:
        """Collect a searchset starting from a page already in hand (fetched or prefetched)."""
        result = SearchResult(resources=bundle_resources(first_page), pages=1)
        seen_urls: set[str] = set()
        url = next_link(first_page)
        while url is not None:
            url = self._absolute(url)
            if url in seen_urls:
                raise FhirBadResponse("the server's next links form a loop")
            if result.pages >= self._limits.max_pages or not is_within(url, self.base_url):
                result.complete = False  # a next link off the server (dot segments included) is dropped
                break
            seen_urls.add(url)
            page = self._get(url, deadline)
            if not is_resource(page, "Bundle"):
                raise FhirBadResponse("a next page is not a Bundle")
            result.resources.extend(bundle_resources(page))
            result.pages += 1
            url = next_link(page)
        return result

    def _absolute(self, url: str) -> str:
        return normalise_url(urljoin(self.base_url + "/", url))

    def _get(self, url: str, deadline: Deadline) -> FhirResource:
        if not is_within(url, self.base_url):
            raise FhirBadResponse("a URL outside the allowed FHIR server was not requested")
        timeout = deadline.timeout(self._limits.timeout_seconds)
        if not self._breaker.allow():
            raise FhirUnavailable("the FHIR server keeps failing; calls to it are paused briefly", url=url)
        try:
            resource = self._fetch(url, timeout, deadline)
        except FhirUnavailable:
            self._breaker.failed()
            raise
        except FhirError:
            self._breaker.succeeded()  # it answered (404, 401, not FHIR): the host is up
            raise
        self._breaker.succeeded()
        return resource

    def _fetch(self, url: str, timeout: float, deadline: Deadline) -> FhirResource:
        try:
            response = self._session.get(
                url, headers=self._headers, timeout=timeout, allow_redirects=False, stream=True
            )
            _raise_for_status(response, url)
            body = read_body(response, max_bytes=self._limits.max_response_bytes, ends_at=deadline.ends_at)
        except (requests.Timeout, DeadlineExceeded, urllib3.exceptions.TimeoutError) as error:
            raise FhirUnavailable("the FHIR server did not answer in time", url=url) from error
        except ResponseTooLarge as error:
            raise FhirBadResponse(error.message, url=url) from error
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            raise FhirUnavailable("the FHIR server could not be reached", url=url) from error
        return _decode(body, url)


def _decode(body: bytes, url: str) -> FhirResource:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FhirBadResponse("the FHIR server's answer is not JSON", url=url) from error
    if not is_resource(payload):
        raise FhirBadResponse("the FHIR server's answer is not a FHIR resource", url=url)
    return dict(payload)


def _raise_for_status(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status < 300:
        return
    response.close()
    error_type: type[FhirError]
    if status in (401, 403):
        error_type = FhirUnauthorized
    elif status in (404, 410):
        error_type = FhirNotFound
    elif status == 429 or status >= 500:
        error_type = FhirUnavailable
    else:
        # 3xx: redirects are not followed, so a server cannot send us (and the token) to another host.
        error_type = FhirBadResponse
    raise error_type(f"the FHIR server answered HTTP {status}", url=url)
