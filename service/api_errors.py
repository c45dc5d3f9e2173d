"""The base of every error the service answers over HTTP: a status, a stable ``error`` code and a ``message``
for a person (never a stack trace, never a request value). ``service.hooks.errors`` maps them to JSON, in one
place, for every blueprint (CDS Hooks, SMART launch, timeline)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}  # noqa: RUF012 - class constant, never mutated

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}
