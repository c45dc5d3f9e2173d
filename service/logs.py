"""Structured logs: one JSON object per line with the request id and hookInstance; no PHI, no tokens.

Kept apart from the metrics so that configuring logs never imports prometheus_client (its multiprocess
mode must see PROMETHEUS_MULTIPROC_DIR before the first import).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from service import json_text

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
hook_instance_var: ContextVar[str] = ContextVar("hook_instance", default="-")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, hookInstance, extra ``http``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
            "hook_instance": hook_instance_var.get(),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            entry["http"] = http
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]  # the type and message, no frames
        return json_text.ascii_dumps(entry)  # orjson, ASCII as before: a line is written at every request


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
