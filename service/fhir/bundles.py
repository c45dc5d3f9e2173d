"""Small readers for FHIR Bundles and OperationOutcomes kept as plain dicts."""

from __future__ import annotations

from service.fhir.fields import FhirResource


def is_resource(value: object, resource_type: str | None = None) -> bool:
    """True for a dict with a string ``resourceType`` (of the given type, when one is named)."""
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return False
    return resource_type is None or value["resourceType"] == resource_type


def is_operation_outcome(value: object) -> bool:
    return is_resource(value, "OperationOutcome")


def bundle_resources(bundle: FhirResource) -> list[FhirResource]:
    """The entry resources of a Bundle, without search outcomes.

    A searchset may carry OperationOutcome entries (``search.mode: outcome``) that warn about the
    search itself; they are not patient data and are dropped here. An entry that is not an object, or whose
    ``resource`` has no string ``resourceType``, is skipped.
    """
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    # One comprehension over the entries: this runs once per resource of every prefetch.
    return [
        resource
        for entry in entries
        if type(entry) is dict
        and type(resource := entry.get("resource")) is dict
        and type(kind := resource.get("resourceType")) is str
        and kind != "OperationOutcome"
        and not (type(search := entry.get("search")) is dict and search.get("mode") == "outcome")
    ]


def next_link(bundle: FhirResource) -> str | None:
    """The URL of the Bundle's ``link`` with relation ``next``, if any."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def outcome_code(outcome: FhirResource) -> str:
    """The first issue's ``code`` of an OperationOutcome (e.g. ``not-found``).

    Only the code is kept: ``diagnostics`` is free text from the server and may hold PHI.
    """
    issues = outcome.get("issue")
    if isinstance(issues, list) and issues and isinstance(issues[0], dict):
        code = issues[0].get("code")
        if isinstance(code, str) and code:
            return code[:64]
    return "unknown"
