"""The patient's chart from the EHR's FHIR server with the SMART access token, through the service's fetcher.

The queries are the patient-view service's prefetch templates (cards/services.toml), so the timeline
reads exactly what the card was graded from. One deadline covers them all (``FhirFetcher``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.fhir.client import SearchResult
from service.fhir.errors import FhirError, FhirUnauthorized
from service.fhir.fetcher import FhirFetcher
from service.fhir.fields import FhirResource
from service.fhir.gathering import gather
from service.hooks.services import MissingToken, ServiceDefinition, fill_prefetch_template
from service.smart.errors import NotAuthorised, UpstreamUnavailable
from service.smart.sessions import Active


@dataclass(frozen=True)
class ChartData:
    resources: list[FhirResource]
    incomplete: bool


def patient_view_templates(services: Mapping[str, ServiceDefinition]) -> dict[str, str]:
    for service in services.values():
        if service.hook == "patient-view":
            return dict(service.prefetch)
    raise UpstreamUnavailable("no patient-view service is configured to say which data to read")


def fetch_chart(fetcher: FhirFetcher, session: Active, templates: Mapping[str, str]) -> ChartData:
    """The patient-view service's prefetch, read with the SMART session's token (the data the card grades)."""
    urls: dict[str, str] = {}
    for key, template in templates.items():
        try:
            urls[key] = fill_prefetch_template(template, {"patientId": session.patient})
        except MissingToken as error:
            raise UpstreamUnavailable(f"prefetch {key} needs more than the patient: {error}") from error
    return _collect(gather(fetcher, fetcher.client(session.iss, session.access_token), urls, {}))


def _collect(results: Mapping[str, SearchResult | FhirError]) -> ChartData:
    failures = [result for result in results.values() if isinstance(result, FhirError)]
    if any(isinstance(failure, FhirUnauthorized) for failure in failures):
        raise NotAuthorised("the EHR's FHIR server no longer accepts this session's token: launch again")
    if failures:
        raise UpstreamUnavailable(f"the patient's data could not be read ({failures[0].message})")
    searches = [result for result in results.values() if isinstance(result, SearchResult)]
    resources = [resource for result in searches for resource in result.resources]
    return ChartData(resources, incomplete=any(not result.complete for result in searches))
