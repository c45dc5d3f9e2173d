"""Metrics (Prometheus, at /metrics) and structured logs (JSON lines with a request id, no PHI, no tokens).

With several gunicorn workers each process keeps its own counters; ``PROMETHEUS_MULTIPROC_DIR`` (set by
``crs-cds serve`` and the container) makes /metrics add them up across workers.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from service.cards.uuids import new_uuid
from service.logs import hook_instance_var, request_id_var

REQUESTS = Counter("crs_cds_requests_total", "HTTP requests by endpoint and status.", ["endpoint", "status"])
LATENCY = Histogram(
    "crs_cds_request_seconds",
    "Request latency by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
FHIR_FETCH = Histogram("crs_cds_fhir_fetch_seconds", "Time to resolve the missing prefetch keys from the FHIR server.")
FHIR_ERRORS = Counter("crs_cds_fhir_fetch_errors_total", "FHIR queries that failed, by error type.", ["error"])
AUDIT_FAILURES = Counter(
    "crs_cds_audit_write_failures_total", "Hook calls answered whose audit row could not be written."
)
RECORDS_DROPPED = Counter(
    "crs_cds_records_dropped_total", "Records not written because the write queue was full, by kind.", ["kind"]
)
RECORD_WRITE_FAILURES = Counter(
    "crs_cds_record_write_failures_total", "Records lost to a database failure in the writer, by kind.", ["kind"]
)
CARDS = Counter("crs_cds_cards_total", "Cards returned, by kind and indicator.", ["kind", "indicator"])
GRADES = Counter(
    "crs_cds_grade_total", "CRS grades computed for patients in scope (unknown: insufficient data).", ["grade"]
)

bp = Blueprint("metrics", __name__)
log = logging.getLogger("crs_cds.access")


@bp.get("/metrics")
def metrics() -> Response:
    registry: Any = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    output = generate_latest(registry) if registry else generate_latest()
    return Response(output, mimetype=CONTENT_TYPE_LATEST)


def endpoint_label() -> str:
    """The service id for hook calls, the route name otherwise (never a patient id or a free path)."""
    endpoint = request.endpoint
    if endpoint == "invoke.invoke":
        service_id = (request.view_args or {}).get("service_id")
        if isinstance(service_id, str):
            return service_id if len(service_id) <= 64 else "unknown-service"
    return endpoint or "unmatched"


@functools.lru_cache(maxsize=256)
def request_metrics(endpoint: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of one endpoint and status: ``labels()`` checks and locks on
    every lookup, and the pairs are few (bounded here too: a client can name any 64-character service id)."""
    return REQUESTS.labels(endpoint, str(status)), LATENCY.labels(endpoint)


def install(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def start() -> None:
        incoming = request.environ.get("HTTP_X_REQUEST_ID", "")  # the header, without building the headers view
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else new_uuid.hex()
        g.request_id, g.started = request_id, time.perf_counter()
        request_id_var.set(request_id)
        hook_instance_var.set("-")

    @app.after_request
    def finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = endpoint_label()
        requests_counted, latency = request_metrics(endpoint, response.status_code)
        requests_counted.inc()
        latency.observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        if log.isEnabledFor(logging.INFO):  # the line's fields are built only when it is written
            status, ms = response.status_code, round(elapsed * 1000, 2)
            log.info(
                "request", extra={"http": {"method": request.method, "endpoint": endpoint, "status": status, "ms": ms}}
            )
        return response


def record_assessment(grade: int | None, cards: list[tuple[str, str]]) -> None:
    grade_counted(grade).inc()
    for kind, indicator in cards:
        card_counted(kind, indicator).inc()


@functools.lru_cache(maxsize=16)
def grade_counted(grade: int | None) -> Any:
    """The grade's counter (a few grades: looked up once, as ``request_metrics``)."""
    return GRADES.labels("unknown" if grade is None else str(grade))


@functools.lru_cache(maxsize=64)
def card_counted(kind: str, indicator: str) -> Any:
    return CARDS.labels(kind, indicator)
