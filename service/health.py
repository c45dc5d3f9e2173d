"""Probes for the orchestrator: liveness says the process serves; readiness says it can do its job."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def liveness() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readiness() -> tuple[Response, int]:
    services = runtime().services
    if not services:
        return jsonify({"status": "unavailable", "problems": ["no CDS services configured"]}), 503
    return jsonify({"status": "ok", "services": sorted(services)}), 200
