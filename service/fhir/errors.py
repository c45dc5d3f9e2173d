"""The FHIR client's exceptions: one small tree, mapped to HTTP in one place (service.hooks.errors).

FhirError
├── FhirUnauthorized   the server refused our token (401, 403)
├── FhirNotFound       the resource or endpoint does not exist (404, 410)
├── FhirUnavailable    timeout, connection failure, 5xx, 429, or the overall deadline passed
├── FhirBadResponse    not JSON, not a FHIR resource, an OperationOutcome, a `next` link loop, too large
└── FhirBadReference   a reference to read is not ``Type/id`` with a valid id (nothing was requested)
"""

from __future__ import annotations


class FhirError(Exception):
    """Base class: something went wrong talking to the EHR's FHIR server."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


class FhirUnauthorized(FhirError):
    """The FHIR server answered 401 or 403."""


class FhirNotFound(FhirError):
    """The FHIR server answered 404 or 410."""


class FhirUnavailable(FhirError):
    """The FHIR server could not be reached in time or failed on its side."""


class FhirBadResponse(FhirError):
    """The FHIR server answered something that is not the FHIR JSON we asked for."""


class FhirBadReference(FhirError):
    """A reference we were asked to read is not ``Type/id`` with a valid FHIR id; no URL was built."""
