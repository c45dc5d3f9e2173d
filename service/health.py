"""Probes for the orchestrator: liveness says the process serves; readiness says it can do its job."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.runtime import runtime
from service.storage.db import can_write

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def liveness() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readiness() -> tuple[Response, int]:
    """Ready when the configuration loaded (it did, or the app would not exist) and the database takes a write.

    A write, not a read: a locked, read-only or deleted database still answers reads, yet every signed call
    (replay guard) and every feedback post needs a write.
    """
    state = runtime()
    if not can_write(state.repository.engine):
        return jsonify({"status": "unavailable", "problems": ["database cannot take a write"]}), 503
    return jsonify({"status": "ok", "services": sorted(state.services), "policyVersion": state.policy.version}), 200
