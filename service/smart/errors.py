"""Errors of the SMART launch, each with its HTTP status; mapped to JSON with every other API error."""

from __future__ import annotations

from service.api_errors import ApiError


class SmartError(ApiError):
    """Something about the launch, the session or the EHR's servers; the message names it."""


class LaunchRefused(SmartError):
    """The launch request itself is wrong: no launch, an iss that is not allowlisted, a bad callback."""


class NotAuthorised(SmartError):
    """No valid session, an expired one, or a state that does not match: the user must launch again."""

    status = 401
    code = "unauthorized"


class UpstreamUnavailable(SmartError):
    """The EHR's authorisation or FHIR server was slow, huge, gone or answered nonsense."""

    status = 503
    code = "unavailable"


class NotConfigured(SmartError):
    """The site has not registered the app (no client id): the launch is not offered."""

    status = 404
    code = "not_found"
