"""The SMART EHR launch against the conformance double: PKCE, state, aud, scopes, one-use codes, sessions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import Flask

from service.smart.oauth import challenge_of
from service.smart.sessions import SmartSession
from service.smart.settings import SCOPES
from tests.smart.conformance_double import SmartConformanceDouble
from tests.smart.conftest import APP_BASE, CLIENT_ID, Clock
from tests.smart.launch_support import authorise, launch


def test_launch_sends_the_browser_to_the_ehr_with_pkce_state_aud_and_the_scopes(
    smart_app: Flask, double: SmartConformanceDouble
) -> None:
    client = smart_app.test_client()
    query = launch(client, double)

    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{APP_BASE}/smart/callback"
    assert query["aud"] == double.iss
    assert query["scope"] == SCOPES
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43
    cookie = client.get_cookie("crs_cds_smart")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert cookie.value not in (query["state"], query["code_challenge"])


def test_the_whole_launch_ends_on_the_timeline_with_the_token_kept_server_side(
    smart_app: Flask, double: SmartConformanceDouble
) -> None:
    client = smart_app.test_client()
    back = authorise(launch(client, double, "crs-grade3"), double)

    response = client.get("/smart/callback", query_string=back)

    assert response.status_code == 303
    assert response.headers["Location"] == "/timeline"
    token_request = next(seen for seen in double.state.seen if seen["path"] == "/auth/token")
    assert token_request["form"]["code_verifier"]  # PKCE: the double checked it against the challenge
    (token,) = double.state.tokens
    cookie = client.get_cookie("crs_cds_smart")
    assert cookie is not None
    assert token not in cookie.value
    assert token not in response.headers["Location"]
    store = smart_app.extensions["crs_cds_smart"].store
    assert store.active(cookie.value, smart_app.extensions["crs_cds"].clock()).patient == "crs-grade3"


def test_a_state_from_another_launch_is_refused_and_ends_the_launch(
    smart_app: Flask, double: SmartConformanceDouble
) -> None:
    client = smart_app.test_client()
    back = authorise(launch(client, double), double)

    forged = client.get("/smart/callback", query_string={**back, "state": "not-the-state-of-this-browser"})
    retried = client.get("/smart/callback", query_string=back)

    assert forged.status_code == 401
    assert forged.json["error"] == "unauthorized"
    assert retried.status_code == 401  # the pending launch was deleted, not left for a second guess
    assert not double.state.tokens


def test_a_callback_without_the_launching_browser_cookie_is_refused(
    smart_app: Flask, double: SmartConformanceDouble
) -> None:
    back = authorise(launch(smart_app.test_client(), double), double)

    response = smart_app.test_client().get("/smart/callback", query_string=back)

    assert response.status_code == 401
    assert not double.state.tokens


def test_a_code_is_exchanged_once(smart_app: Flask, double: SmartConformanceDouble) -> None:
    client = smart_app.test_client()
    back = authorise(launch(client, double), double)
    assert client.get("/smart/callback", query_string=back).status_code == 303

    assert client.get("/smart/callback", query_string=back).status_code == 401


def test_a_denied_authorisation_ends_the_session(smart_app: Flask, double: SmartConformanceDouble) -> None:
    client = smart_app.test_client()
    query = launch(client, double)

    response = client.get("/smart/callback", query_string={"error": "access_denied", "state": query["state"]})

    assert response.status_code == 401
    assert "access_denied" in response.json["message"]
    assert client.get("/timeline").status_code == 401


def test_the_timeline_needs_an_active_session(smart_app: Flask) -> None:
    response = smart_app.test_client().get("/timeline")

    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"


def test_sessions_expire_with_the_token_or_sooner(
    smart_app: Flask, double: SmartConformanceDouble, clock: Clock
) -> None:
    client = smart_app.test_client()
    assert client.get("/smart/callback", query_string=authorise(launch(client, double), double)).status_code == 303
    store, cookie = smart_app.extensions["crs_cds_smart"].store, client.get_cookie("crs_cds_smart")
    assert cookie is not None
    assert store.active(cookie.value, clock.now) is not None

    clock.now += timedelta(seconds=301)  # the double's tokens live 300 s

    assert store.active(cookie.value, clock.now) is None
    assert client.get("/timeline").status_code == 401


def test_pending_launches_expire(smart_app: Flask, double: SmartConformanceDouble, clock: Clock) -> None:
    client = smart_app.test_client()
    back = authorise(launch(client, double), double)
    clock.now += timedelta(minutes=6)

    assert client.get("/smart/callback", query_string=back).status_code == 401


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"launch": "abc"}, 400),
        ({"iss": "https://fhir.elsewhere.example/r4", "launch": "abc"}, 400),
        ({"iss": "ISS", "launch": ""}, 400),
        ({"iss": "ISS", "launch": "x" * 5000}, 400),
    ],
    ids=["no iss", "iss not allowlisted", "no launch", "launch too long"],
)
def test_bad_launches_get_a_clear_400(
    smart_app: Flask, double: SmartConformanceDouble, query: dict[str, str], status: int
) -> None:
    query = {key: double.iss if value == "ISS" else value for key, value in query.items()}

    response = smart_app.test_client().get("/smart/launch", query_string=query)

    assert response.status_code == status
    assert response.json["error"] == "bad_request"
    assert response.json["message"]
    assert not [seen for seen in double.state.seen if "smart-configuration" in seen["path"]]


@pytest.mark.parametrize("mode", ["slow", "huge", "redirect", "no-pkce"])
def test_a_hostile_authorisation_server_costs_at_most_the_deadline(
    smart_app: Flask, double: SmartConformanceDouble, mode: str
) -> None:
    double.state.mode = mode
    started = time.monotonic()

    response = smart_app.test_client().get("/smart/launch", query_string={"iss": double.iss, "launch": "abc"})

    assert response.status_code == 503
    assert response.json["error"] == "unavailable"
    assert time.monotonic() - started < 3  # deadline 1.5 s (+ one read timeout at most)
    assert smart_app.test_client().get("/healthz").status_code == 200


def test_a_slow_token_endpoint_costs_at_most_the_deadline(smart_app: Flask, double: SmartConformanceDouble) -> None:
    client = smart_app.test_client()
    back = authorise(launch(client, double), double)
    double.state.mode = "slow-token"
    started = time.monotonic()

    response = client.get("/smart/callback", query_string=back)

    assert response.status_code == 503
    assert time.monotonic() - started < 3


def test_without_a_client_id_the_launch_is_not_offered(
    database_url: str, double: SmartConformanceDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.app import create_app
    from service.settings import Settings

    monkeypatch.delenv("CRS_CDS_SMART_CLIENT_ID", raising=False)
    app = create_app(Settings(auth="off", public_base_url=APP_BASE, database_url=database_url, auto_migrate=False))

    response = app.test_client().get("/smart/launch", query_string={"iss": double.iss, "launch": "abc"})

    assert response.status_code == 404


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    # RFC 7636 appendix B
    assert challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_session_table_holds_no_cookie_value(smart_app: Flask, double: SmartConformanceDouble) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    client = smart_app.test_client()
    launch(client, double)
    cookie = client.get_cookie("crs_cds_smart")
    with Session(smart_app.extensions["crs_cds_smart"].store.engine) as session:
        keys = session.scalars(select(SmartSession.key)).all()
    assert cookie is not None
    assert keys
    assert cookie.value not in keys
