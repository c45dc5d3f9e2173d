"""The OpenAPI 3 description of the service (``service/data/openapi.yaml``), served for integrators."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)
DOCUMENT = Path(__file__).resolve().parent / "data" / "openapi.yaml"


@cache
def openapi_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return document


@bp.get("/openapi.json")
def document() -> Response:
    return jsonify(openapi_document())
