"""A FHIR R4 REST client for one server and one bearer token.

The ``requests.Session`` is injected: the app shares one pooled session across requests, and tests
can mount their own adapter or intercept with ``responses``. Every call has a timeout bounded by the
caller's overall deadline; every failure becomes one of the exceptions in ``service.fhir.errors``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests

from service.fhir.bundles import (
    FhirResource,
    bundle_resources,
    is_operation_outcome,
    is_resource,
    next_link,
    outcome_code,
)
from service.fhir.errors import (
    FhirBadResponse,
    FhirError,
    FhirNotFound,
    FhirUnauthorized,
    FhirUnavailable,
)
from service.settings import normalise_base_url

FHIR_JSON = "application/fhir+json"


class Deadline:
    """An overall time budget shared by the requests of one hook call."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._ends_at = monotonic() + seconds

    def remaining(self) -> float:
        return self._ends_at - self._monotonic()

    def timeout(self, per_request: float) -> float:
        """The timeout for the next request: the per-request limit, never past the deadline."""
        remaining = self.remaining()
        if remaining <= 0:
            raise FhirUnavailable("the overall deadline for FHIR requests passed")
        return min(per_request, remaining)


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
        timeout_seconds: float,
        max_pages: int,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self._headers = {"Accept": FHIR_JSON}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._session = session
        self._timeout_seconds = timeout_seconds
        self._max_pages = max_pages

    def read(self, relative_url: str, deadline: Deadline) -> FhirResource | None:
        """A read (``Patient/123``); None when the server says the resource does not exist."""
        try:
            resource = self._get(self._absolute(relative_url), deadline)
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
            if result.pages >= self._max_pages or not self._is_on_server(url):
                result.complete = False
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
        return urljoin(self.base_url + "/", url)

    def _is_on_server(self, url: str) -> bool:
        """Paging never leaves the server we were allowed to call (a next link to elsewhere is dropped)."""
        normalised = normalise_base_url(url)
        return normalised == self.base_url or normalised.startswith(self.base_url + "/")

    def _get(self, url: str, deadline: Deadline) -> FhirResource:
        try:
            response = self._session.get(
                url,
                headers=self._headers,
                timeout=deadline.timeout(self._timeout_seconds),
                allow_redirects=False,
            )
        except requests.Timeout as error:
            raise FhirUnavailable("the FHIR server did not answer in time", url=url) from error
        except requests.RequestException as error:
            raise FhirUnavailable("the FHIR server could not be reached", url=url) from error
        return _decode(response, url)


def _decode(response: requests.Response, url: str) -> FhirResource:
    _raise_for_status(response, url)
    try:
        payload = response.json()
    except ValueError as error:
        raise FhirBadResponse("the FHIR server's answer is not JSON", url=url) from error
    if not is_resource(payload):
        raise FhirBadResponse("the FHIR server's answer is not a FHIR resource", url=url)
    return dict(payload)


def _raise_for_status(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status < 300:
        return
    error_type: type[FhirError]
    if status in (401, 403):
        error_type = FhirUnauthorized
    elif status in (404, 410):
        error_type = FhirNotFound
    elif status == 429 or status >= 500:
        error_type = FhirUnavailable
    else:
        # 3xx: redirects are not followed, so a server cannot send us to another host.
        error_type = FhirBadResponse
    raise error_type(f"the FHIR server answered HTTP {status}", url=url)
