"""Prefetch resolution (architecture.md "Data flow" step 3; checklist P1-P3).

For each prefetch key of the service: a value the EHR sent is used as is; a missing key, or an
OperationOutcome in its place, is fetched from ``fhirServer`` with the request's bearer token. All
fetches run in parallel under one deadline. ``null`` and an empty Bundle mean "no data". A key whose
data cannot be had makes the call fail with 412, naming the key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.fhir.bundles import bundle_resources, is_operation_outcome, is_resource, next_link
from service.fhir.client import Deadline, FhirClient, SearchResult
from service.fhir.errors import FhirError
from service.fhir.fetcher import FhirFetcher
from service.fhir.fields import FhirResource
from service.fhir.gathering import gather, read_medications
from service.hooks.errors import BadRequest, PreconditionFailed
from service.hooks.models import HookRequest
from service.hooks.services import MissingToken, ServiceDefinition, fill_prefetch_template
from service.urls import normalise_base_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedData:
    """The resources of every prefetch key, flattened; where they came from; what is incomplete."""

    resources_by_key: dict[str, list[FhirResource]]
    fetched_keys: tuple[str, ...] = ()
    incomplete_keys: tuple[str, ...] = ()

    def resources(self, resource_type: str) -> list[FhirResource]:
        """All resources of one type across keys (sites may satisfy templates differently)."""
        found: dict[str, FhirResource] = {}
        anonymous: list[FhirResource] = []
        for resources in self.resources_by_key.values():
            for resource in resources:
                if resource.get("resourceType") != resource_type:
                    continue
                if isinstance(resource.get("id"), str):
                    found[resource["id"]] = resource
                else:
                    anonymous.append(resource)
        return [*found.values(), *anonymous]


@dataclass
class _Plan:
    ready: dict[str, list[FhirResource]] = field(default_factory=dict)
    to_fetch: dict[str, str] = field(default_factory=dict)
    to_continue: dict[str, FhirResource] = field(default_factory=dict)


def render_template(template: str, request: HookRequest) -> str:
    """The relative FHIR URL of a prefetch template for this request; 412 when a token has no value."""
    try:
        return fill_prefetch_template(template, request.context)
    except MissingToken as error:
        raise PreconditionFailed(str(error)) from error


def resolve(
    request: HookRequest,
    service: ServiceDefinition,
    fetcher: FhirFetcher,
    allowed_servers: tuple[str, ...],
    deadline: Deadline | None = None,
) -> ResolvedData:
    """``allowed_servers``: the FHIR base URLs this caller may make us call (anything else: 400).

    ``deadline``: the hook call's FHIR budget (``fetcher.deadline()``), to share with later fetches of the
    same call (``fetcher.read_references`` on ``allowed_client``); a fresh one when not given.
    """
    plan = _plan(request, service)
    if not plan.to_fetch and not plan.to_continue:
        return ResolvedData(plan.ready)
    client = _client(request, plan, fetcher, allowed_servers)
    if client is None:
        # Pages beyond the first of a prefetched Bundle, with no server to fetch them from.
        return ResolvedData({**plan.ready, **_first_pages(plan)}, incomplete_keys=tuple(plan.to_continue))
    return _collect(plan, gather(fetcher, client, plan.to_fetch, plan.to_continue, deadline))


def _plan(request: HookRequest, service: ServiceDefinition) -> _Plan:
    plan = _Plan()
    prefetch = request.prefetch or {}
    for key, template in service.prefetch.items():
        if key not in prefetch or is_operation_outcome(prefetch[key]):
            plan.to_fetch[key] = render_template(template, request)
        else:
            _plan_prefetched(plan, key, prefetch[key])
    return plan


def _plan_prefetched(plan: _Plan, key: str, value: Any) -> None:
    if value is None:
        plan.ready[key] = []
    elif is_resource(value, "Bundle"):
        if next_link(value):
            plan.to_continue[key] = value
        else:
            plan.ready[key] = bundle_resources(value)
    elif is_resource(value):
        plan.ready[key] = [value]
    else:
        raise BadRequest(f"prefetch.{key} must be a FHIR resource, a Bundle or null")


def _first_pages(plan: _Plan) -> dict[str, list[FhirResource]]:
    return {key: bundle_resources(bundle) for key, bundle in plan.to_continue.items()}


def _client(request: HookRequest, plan: _Plan, fetcher: FhirFetcher, allowed: tuple[str, ...]) -> FhirClient | None:
    if request.fhirServer is None:
        if plan.to_fetch:
            raise PreconditionFailed(
                "required data were not prefetched and the request has no fhirServer to fetch them from",
                missing=sorted(plan.to_fetch),
            )
        return None
    return allowed_client(request, fetcher, allowed)


def allowed_client(request: HookRequest, fetcher: FhirFetcher, allowed: tuple[str, ...]) -> FhirClient:
    """A client for the request's ``fhirServer`` and token; 400 unless the server is in ``allowed``."""
    if request.fhirServer is None or normalise_base_url(request.fhirServer) not in allowed:
        raise BadRequest("fhirServer is not an allowed FHIR server for this service")
    return fetcher.client(request.fhirServer, request.access_token)


def fetch_medications(
    request: HookRequest,
    resources: list[FhirResource],
    fetcher: FhirFetcher,
    allowed: tuple[str, ...],
    deadline: Deadline | None = None,
) -> dict[str, FhirResource]:
    """R-UNIDENTIFIED: the Medications that ``medicationReference`` values point to and the data did not bring,
    read from the request's own FHIR server when it is allowed (same token, deadline and limits). One that
    cannot be read stays unidentified and the card names it: a missing Medication never fails the call."""
    if request.fhirServer is None:
        return {}
    if normalise_base_url(request.fhirServer) not in allowed:
        log.warning("referenced Medications not fetched: fhirServer is not allowed")
        return {}
    return read_medications(fetcher, fetcher.client(request.fhirServer, request.access_token), resources, deadline)


def _collect(plan: _Plan, results: Mapping[str, SearchResult | FhirError]) -> ResolvedData:
    """412 naming every key whose data could not be had; otherwise the resources by key."""
    failures = {key: result for key, result in results.items() if isinstance(result, FhirError)}
    if failures:
        reasons = "; ".join(f"{key}: {error.message}" for key, error in sorted(failures.items()))
        raise PreconditionFailed(f"required data could not be fetched ({reasons})", missing=sorted(failures))
    searches = {key: result for key, result in results.items() if isinstance(result, SearchResult)}
    return ResolvedData(
        resources_by_key={**plan.ready, **{key: result.resources for key, result in searches.items()}},
        fetched_keys=tuple(sorted(plan.to_fetch)),
        incomplete_keys=tuple(sorted(key for key, result in searches.items() if not result.complete)),
    )
