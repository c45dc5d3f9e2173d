"""Limits and identity at the API (issue 12 items 9 and 10): feedback bounded, distinct feedback kept."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.hooks.feedback import MAX_ITEM_BYTES
from service.storage.models import Feedback

URL = "/cds-services/crs-patient-view/feedback"
CARD = "4e0a3a1e-3283-4575-ab82-028d55fe2719"
AT = "2026-03-01T10:00:00Z"


def rows(app: Flask) -> list[Feedback]:
    with Session(app.extensions["crs_cds"].repository.engine) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


def post(client: FlaskClient, *items: dict[str, Any]) -> Any:
    return client.post(URL, json={"feedback": list(items)})


def test_item9_a_feedback_item_over_the_size_limit_is_413_and_nothing_is_stored(
    client: FlaskClient, app: Flask
) -> None:
    small = {"card": CARD, "outcome": "accepted", "outcomeTimestamp": AT}
    huge = {**small, "extension": {"note": "x" * MAX_ITEM_BYTES}}

    response = post(client, small, huge)

    assert response.status_code == 413
    assert response.json == {
        "error": "payload_too_large",
        "message": f"feedback.1: larger than {MAX_ITEM_BYTES} bytes of JSON",
    }
    assert rows(app) == []


def test_item10_feedback_accepting_different_suggestions_of_one_card_is_kept(client: FlaskClient, app: Flask) -> None:
    first = {"card": CARD, "outcome": "accepted", "acceptedSuggestions": [{"id": "s-1"}], "outcomeTimestamp": AT}
    second = {**first, "acceptedSuggestions": [{"id": "s-2"}]}

    answers = [post(client, first).json, post(client, second).json]

    assert [answer["stored"] for answer in answers] == [1, 1]
    assert [row.accepted_suggestions for row in rows(app)] == [["s-1"], ["s-2"]]


def test_item10_an_override_reason_added_later_is_kept(client: FlaskClient, app: Flask) -> None:
    bare = {"card": CARD, "outcome": "overridden", "outcomeTimestamp": AT}
    reasoned = {**bare, "overrideReason": {"reason": {"code": "already-addressed"}, "userComment": "given at 09:00"}}

    post(client, bare)
    answer = post(client, reasoned).json

    assert answer["stored"] == 1
    assert [(row.override_code, row.user_comment) for row in rows(app)] == [
        (None, None),
        ("already-addressed", "given at 09:00"),
    ]


def test_item10_a_true_repeat_is_still_stored_once(client: FlaskClient, app: Flask) -> None:
    item = {
        "card": CARD,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "s-2"}, {"id": "s-1"}],
        "outcomeTimestamp": AT,
    }
    reordered = {**item, "acceptedSuggestions": ["s-1", "s-2"], "outcomeTimestamp": "2026-03-01T11:00:00+01:00"}

    answers = [post(client, item).json, post(client, reordered).json]

    assert [(answer["stored"], answer["duplicates"]) for answer in answers] == [(1, 0), (0, 1)]
    assert len(rows(app)) == 1


def test_item10_discovery_answers_with_a_trailing_slash(client: FlaskClient) -> None:
    plain, slashed = client.get("/cds-services"), client.get("/cds-services/")

    assert slashed.status_code == 200
    assert slashed.json == plain.json


def test_item5_a_400_digit_quantity_is_an_implausible_value_never_a_500(app: Flask) -> None:
    """R-PLAUSIBLE: JSON allows integers of any length; one too large for a float is named, not a crash."""
    from tests.conftest import hook_body
    from tests.fhir_builders import bp, car_t, prefetch, temp

    marker = 424242.5
    body = hook_body(prefetch=prefetch([temp(1, marker), bp(1, 120)], [car_t(hours_ago=96)]))
    raw = json.dumps(body).replace(str(marker), "9" * 400)
    client = app.test_client()

    response = client.post("/cds-services/crs-patient-view", data=raw, content_type="application/json")

    assert response.status_code == 200, response.get_data(as_text=True)
    (card,) = response.json["cards"]
    assert "implausible-value" in card["extension"]["crs-assessment"]["flags"]
    assert "(too large to read)" in card["detail"]
