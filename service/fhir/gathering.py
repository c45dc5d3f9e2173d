"""Gathering a hook call's FHIR data: the prefetch queries (reads, searches, continued Bundles) run in
parallel on the fetcher under one deadline, and the Medications that ``medicationReference`` values point to.

The CDS Hooks decisions (which keys to fetch, 400 for a server not allowed, 412 for data that cannot be had)
are the web layer's (``service.hooks.prefetch``); this module only fetches and collects.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.fhir.bundles import is_resource
from service.fhir.client import Deadline, FhirClient, SearchResult
from service.fhir.errors import FhirError
from service.fhir.fetcher import FhirFetcher, Query, read_query, search_query
from service.fhir.fields import FhirResource
from service.fhir.medications import missing_medication_references
from service.observability import FHIR_ERRORS, FHIR_FETCH

MAX_MEDICATIONS = 50  # distinct Medications read per call: a chart names a few; more is a hostile payload


def gather(
    fetcher: FhirFetcher,
    client: FhirClient,
    to_fetch: Mapping[str, str],
    to_continue: Mapping[str, FhirResource],
    deadline: Deadline | None = None,
) -> dict[str, SearchResult | FhirError]:
    """Each key's resources across its pages, or the FhirError that stopped it (counted by type)."""
    with FHIR_FETCH.time():
        results = fetcher.run(client, _queries(to_fetch, to_continue), deadline)
    for result in results.values():
        if isinstance(result, FhirError):
            FHIR_ERRORS.labels(type(result).__name__).inc()
    return results


def read_medications(
    fetcher: FhirFetcher, client: FhirClient, resources: list[FhirResource], deadline: Deadline | None = None
) -> dict[str, FhirResource]:
    """The Medications referenced by ``resources`` that they did not bring, by ``Medication/{id}``: one read per
    distinct Medication, in parallel. One that cannot be read is left out (the record stays unidentified)."""
    references = missing_medication_references(resources)
    if not references:
        return {}
    with FHIR_FETCH.time():
        results = fetcher.read_references(client, references[:MAX_MEDICATIONS], deadline)
    return {ref: item for ref, item in results.items() if isinstance(item, dict) and is_resource(item, "Medication")}


def _queries(to_fetch: Mapping[str, str], to_continue: Mapping[str, FhirResource]) -> dict[str, Query[SearchResult]]:
    queries: dict[str, Query[SearchResult]] = {}
    for key, url in to_fetch.items():
        queries[key] = read_query(url) if "?" not in url else search_query(url)
    for key, bundle in to_continue.items():
        queries[key] = _continue_query(bundle)
    return queries


def _continue_query(bundle: FhirResource) -> Query[SearchResult]:
    return lambda client, deadline: client.continue_search(bundle, deadline)
