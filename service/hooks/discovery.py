"""``GET /cds-services``: the discovery document (checklist D1, D2)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.runtime import runtime

bp = Blueprint("discovery", __name__)


@bp.get("/cds-services", strict_slashes=False)  # some EHRs append a slash to the base URL they were given
def discovery() -> Response:
    services = [service.discovery_entry() for service in runtime().services.values()]
    return jsonify({"services": services})
