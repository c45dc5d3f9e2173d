"""``POST /cds-services/{id}/feedback`` (checklist F1): lenient about what real EHRs send, idempotent.

Accepted variations: ``overrideReasons`` (plural, a list) as well as ``overrideReason``; a bare Coding as
the reason; ``acceptedSuggestions`` as ``[{"id": ...}]`` or as plain strings; outcome in any case and as
``override``/``overriden``/``rejected``/``dismissed``; card ids that are not uuids; a missing
``outcomeTimestamp``. An item without a card id cannot be attributed and makes the whole post a 400, an
item larger than ``MAX_ITEM_BYTES`` of JSON a 413, so nothing is half-stored.

Identity: the card, the outcome, the timestamp and the content (accepted suggestion ids, override reason
and comment). CDS Hooks allows several feedback items for one card, so two posts that differ in what they
accept or why they override are both kept; a true repeat (a retry) is stored once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from service.hooks.errors import BadRequest, PayloadTooLarge, ServiceUnavailable
from service.hooks.invoke import find_service
from service.hooks.json_body import read_json_object
from service.runtime import runtime

bp = Blueprint("feedback", __name__)
log = logging.getLogger(__name__)
OUTCOMES = {
    "accepted": "accepted",
    "accept": "accepted",
    "overridden": "overridden",
    "overriden": "overridden",
    "override": "overridden",
    "rejected": "overridden",
    "dismissed": "overridden",
}
MAX_ITEMS = 1000
MAX_ITEM_BYTES = 64 * 1024


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    service = find_service(service_id)
    items = feedback_items(read_json_object())
    now = runtime().clock()
    rows = {
        row["dedupe_key"]: row
        for row in (feedback_row(service.id, item, index, now) for index, item in enumerate(items))
    }
    try:
        stored = runtime().repository.record_feedback(list(rows.values()))
    except SQLAlchemyError as error:  # nothing was half-stored: the EHR may retry
        log.warning("feedback not stored: %s", type(error).__name__)
        raise ServiceUnavailable("feedback could not be stored; retry later") from error
    return jsonify({"received": len(items), "stored": stored, "duplicates": len(items) - stored})


def feedback_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("feedback")
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise BadRequest("feedback: expected a non-empty array of feedback items")
    if len(items) > MAX_ITEMS:
        raise BadRequest(f"feedback: at most {MAX_ITEMS} items per post")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"feedback.{index}: expected an object")
        if len(json.dumps(item, default=str)) > MAX_ITEM_BYTES:
            raise PayloadTooLarge(f"feedback.{index}: larger than {MAX_ITEM_BYTES} bytes of JSON")
    return items


def feedback_row(service_id: str, item: dict[str, Any], index: int, received_at: datetime) -> dict[str, Any]:
    card = item.get("card") or item.get("cardId") or item.get("card_uuid")
    if not isinstance(card, str) or not card.strip() or len(card) > 200:
        raise BadRequest(f"feedback.{index}.card: the card uuid is required")
    outcome = OUTCOMES.get(str(item.get("outcome", "")).strip().lower())
    if outcome is None:
        raise BadRequest(f"feedback.{index}.outcome: expected 'accepted' or 'overridden'")
    timestamp = normalised_timestamp(item.get("outcomeTimestamp"))
    reason = override_reason(item)
    accepted = accepted_suggestion_ids(item.get("acceptedSuggestions"))
    content = {"accepted": sorted(accepted), "reason": reason} if timestamp else item
    identity = [service_id, card, outcome, timestamp or "", json.dumps(content, sort_keys=True, default=str)]
    return {
        "dedupe_key": hashlib.sha256("\x1f".join(identity).encode()).hexdigest(),
        "received_at": received_at,
        "service_id": service_id,
        "card_uuid": card.strip(),
        "outcome": outcome,
        "outcome_timestamp": timestamp,
        "accepted_suggestions": accepted,
        "override_system": _text(reason.get("system"), 300),
        "override_code": _text(reason.get("code"), 200),
        "override_display": _text(reason.get("display"), 300),
        "user_comment": _text(reason.get("userComment"), 4000),
        "raw": item,
    }


def normalised_timestamp(value: object) -> str | None:
    """ISO 8601 in UTC when it parses; the text as sent otherwise (still used for de-duplication)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value.strip()[:64]
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def accepted_suggestion_ids(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    ids = [entry.get("id") if isinstance(entry, dict) else entry for entry in value]
    return [str(suggestion_id) for suggestion_id in ids if isinstance(suggestion_id, str | int)]


def override_reason(item: dict[str, Any]) -> dict[str, Any]:
    """The first reason, from ``overrideReason`` or ``overrideReasons``; a bare Coding is accepted."""
    raw = item.get("overrideReason", item.get("overrideReasons"))
    if isinstance(raw, list):
        raw = next((entry for entry in raw if isinstance(entry, dict)), None)
    if not isinstance(raw, dict):
        return {}
    coding: dict[str, Any] = raw["reason"] if isinstance(raw.get("reason"), dict) else raw
    return {**{k: coding.get(k) for k in ("system", "code", "display")}, "userComment": raw.get("userComment")}


def _text(value: object, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int) and str(value) else None
