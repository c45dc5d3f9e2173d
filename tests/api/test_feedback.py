"""Feedback (checklist F1): lenient where real EHRs differ, idempotent, nothing lost or half-stored."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from service.storage.models import Feedback

CARD = "4e0a3a1e-3283-4575-ab82-028d55fe2719"
URL = "/cds-services/crs-patient-view/feedback"


def stored(app: Flask) -> list[Feedback]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(app.extensions["crs_cds"].repository.engine) as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


LENIENT = [
    # (case, one feedback item as an EHR sends it, expected (outcome, accepted ids, override code, comment))
    (
        "spec example: suggestion accepted",
        {
            "card": CARD,
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945"}],
            "outcomeTimestamp": "2021-12-11T10:05:31Z",
        },
        ("accepted", ["e56e1945"], None, None),
    ),
    (
        "spec example: overridden with reason and comment",
        {
            "card": CARD,
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "d7ecf885", "system": "https://example.com/r"},
                "userComment": "On CRRT",
            },
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        },
        ("overridden", [], "d7ecf885", "On CRRT"),
    ),
    (
        "overrideReasons plural as a list",
        {
            "card": CARD,
            "outcome": "overridden",
            "overrideReasons": [{"reason": {"code": "already-addressed"}}],
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        },
        ("overridden", [], "already-addressed", None),
    ),
    (
        "a bare Coding as the reason",
        {
            "card": CARD,
            "outcome": "overridden",
            "overrideReason": {"system": "urn:x", "code": "other-cause", "display": "Other"},
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        },
        ("overridden", [], "other-cause", None),
    ),
    (
        "accepted suggestions as plain strings",
        {
            "card": CARD,
            "outcome": "ACCEPTED",
            "acceptedSuggestions": ["s1", "s2"],
            "outcomeTimestamp": "2020-12-11T00:00:00+01:00",
        },
        ("accepted", ["s1", "s2"], None, None),
    ),
    (
        "a non-uuid card id",
        {"card": "card#17", "outcome": "overriden", "outcomeTimestamp": "2020-12-11"},
        ("overridden", [], None, None),
    ),
    ("no outcomeTimestamp", {"card": CARD, "outcome": "dismissed"}, ("overridden", [], None, None)),
]


@pytest.mark.parametrize(("case", "item", "expected"), LENIENT, ids=[row[0] for row in LENIENT])
def test_F1_lenient_feedback_is_stored(
    client: FlaskClient, app: Flask, case: str, item: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    response = client.post(URL, json={"feedback": [item]})

    assert response.status_code == 200, (case, response.json)
    assert response.json == {"received": 1, "stored": 1, "duplicates": 0}
    (row,) = stored(app)
    assert (row.outcome, row.accepted_suggestions, row.override_code, row.user_comment) == expected
    assert row.raw == item


def test_F1_timestamps_are_normalised_to_utc(client: FlaskClient, app: Flask) -> None:
    client.post(
        URL, json={"feedback": [{"card": CARD, "outcome": "accepted", "outcomeTimestamp": "2020-12-11T01:00:00+01:00"}]}
    )

    assert stored(app)[0].outcome_timestamp == "2020-12-11T00:00:00+00:00"


def test_F1_duplicates_are_idempotent(client: FlaskClient, app: Flask) -> None:
    item = {
        "card": CARD,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "s1"}],
        "outcomeTimestamp": "2021-12-11T10:05:31Z",
    }
    same_moment_other_zone = {**item, "outcomeTimestamp": "2021-12-11T11:05:31+01:00"}

    first = client.post(URL, json={"feedback": [item, item]})
    second = client.post(URL, json={"feedback": [same_moment_other_zone]})

    assert first.json == {"received": 2, "stored": 1, "duplicates": 1}
    assert second.json == {"received": 1, "stored": 0, "duplicates": 1}
    assert len(stored(app)) == 1


def test_F1_accepted_and_then_overridden_are_both_kept(client: FlaskClient, app: Flask) -> None:
    client.post(
        URL, json={"feedback": [{"card": CARD, "outcome": "accepted", "outcomeTimestamp": "2021-12-11T10:00:00Z"}]}
    )
    client.post(
        URL, json={"feedback": [{"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2021-12-11T10:05:00Z"}]}
    )

    assert [row.outcome for row in stored(app)] == ["accepted", "overridden"]


@pytest.mark.parametrize(
    ("case", "body", "named"),
    [
        ("no feedback array", {"cards": []}, "feedback: expected a non-empty array"),
        ("empty feedback array", {"feedback": []}, "feedback: expected a non-empty array"),
        ("item without card", {"feedback": [{"outcome": "accepted"}]}, "feedback.0.card"),
        ("unknown outcome", {"feedback": [{"card": CARD, "outcome": "maybe"}]}, "feedback.0.outcome"),
        (
            "item not an object",
            {"feedback": [{"card": CARD, "outcome": "accepted"}, "x"]},
            "feedback.1: expected an object",
        ),
    ],
)
def test_F1_unusable_feedback_is_400_and_nothing_is_stored(
    client: FlaskClient, app: Flask, case: str, body: dict[str, Any], named: str
) -> None:
    response = client.post(URL, json=body)

    assert response.status_code == 400, case
    assert named in response.json["message"]
    assert stored(app) == []


def test_F1_feedback_for_an_unknown_service_is_404(client: FlaskClient) -> None:
    assert (
        client.post(
            "/cds-services/other/feedback", json={"feedback": [{"card": CARD, "outcome": "accepted"}]}
        ).status_code
        == 404
    )


def test_F1_database_failure_is_503_so_the_ehr_retries(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_rows: object) -> int:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.extensions["crs_cds"].repository, "record_feedback", fail)

    response = client.post(URL, json={"feedback": [{"card": CARD, "outcome": "accepted"}]})

    assert response.status_code == 503
    assert response.json["error"] == "unavailable"
