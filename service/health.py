"""Probes for the orchestrator: liveness says the process serves; readiness says it can do its job."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.runtime import runtime
from service.storage.db import is_reachable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def liveness() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readiness() -> tuple[Response, int]:
    """Ready when the configuration loaded (it did, or the app would not exist) and the database answers."""
    state = runtime()
    if not is_reachable(state.repository.engine):
        return jsonify({"status": "unavailable", "problems": ["database unreachable"]}), 503
    return jsonify({"status": "ok", "services": sorted(state.services), "policyVersion": state.policy.version}), 200
