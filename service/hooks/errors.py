"""HTTP errors of the API and the one place that maps every error to a JSON body.

Bodies always have ``error`` (a stable code) and ``message`` (for a person); never a stack trace,
never request values (they may hold PHI or tokens).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from service.api_errors import ApiError as ApiError  # re-exported: the web layer's errors derive from it

log = logging.getLogger(__name__)


class Unauthorized(ApiError):
    """401: no valid EHR JWT. The body gives no detail (the reason is logged)."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - class constant, never mutated

    def __init__(self) -> None:
        super().__init__("authentication required")


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class PatientMismatch(BadRequest):
    """R-SUBJECT: data of another patient than ``context.patientId``; nothing is graded, no card."""

    code = "patient_mismatch"


class PayloadTooLarge(ApiError):
    """413: a part of the body is larger than the service keeps."""

    status = 413
    code = "payload_too_large"


class ServiceNotFound(ApiError):
    status = 404
    code = "not_found"


class ServiceUnavailable(ApiError):
    """503: a dependency (the database) failed; the caller may retry."""

    status = 503
    code = "unavailable"


class PreconditionFailed(ApiError):
    """412: required FHIR data could not be had (CDS Hooks 2.0)."""

    status = 412
    code = "missing_data"


def validation_details(error: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Where and what, without the offending values."""
    return [
        {
            "field": (prefix + ".".join(str(part) for part in item["loc"])).rstrip(".") or "body",
            "problem": item["msg"].removeprefix("Value error, "),
        }
        for item in error.errors(include_url=False, include_input=False)
    ]


def invalid(error: ValidationError, prefix: str = "") -> BadRequest:
    details = validation_details(error, prefix)
    first = details[0] if details else {"field": prefix.rstrip(".") or "body", "problem": "invalid"}
    message = f"{first['field']}: {first['problem']}"
    return BadRequest(message, details=details)


def _json(status: int, body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[Response, int]:
        response, status = _json(error.status, error.body())
        response.headers.update(error.headers)
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        return _json(status, {"error": code, "message": error.description or error.name})

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error", exc_info=error)
        return _json(500, {"error": "internal_error", "message": "internal error; see the service log"})
