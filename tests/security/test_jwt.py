"""Every JWT failure mode is 401 with no detail; a valid EHR token (ES384 or RS384) is accepted."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import hook_body, records_written
from tests.jwt_support import ISSUER, KID_EC, TEST_BASE, EhrKeys

URL = "/cds-services/crs-patient-view"
AUD = TEST_BASE + URL


def raw_client(app: Flask) -> FlaskClient:
    """A client that sends exactly the headers a test gives it (no automatic signing)."""
    return FlaskClient(app, app.response_class, use_cookies=False)


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["iss"] = ISSUER
    claims["tenant"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def alg_none(keys: EhrKeys) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUD, "exp": now + 300, "iat": now, "jti": "none-1"}
    return jwt.encode(claims, "", algorithm="none", headers={"kid": KID_EC})


def hs256_with_public_key(keys: EhrKeys) -> str:
    """The classic key-confusion attack: the public key used as an HMAC secret."""
    public_pem = keys.rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUD, "exp": now + 300, "iat": now, "jti": "hs-1"}
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "ehr-rs384", "typ": "JWT"}).encode()).rstrip(
        b"="
    )
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest()).rstrip(
        b"="
    )
    return (header + b"." + payload + b"." + signature).decode()


FAILURES: list[tuple[str, Callable[[EhrKeys], str]]] = [
    ("expired", lambda k: k.sign(AUD, claims={"exp": int(time.time()) - 120, "iat": int(time.time()) - 400})),
    ("wrong audience", lambda k: k.sign(TEST_BASE + "/cds-services/crs-order-sign")),
    ("audience of another host", lambda k: k.sign("https://other.example.org" + URL)),
    ("wrong issuer", lambda k: k.sign(AUD, claims={"iss": "https://attacker.example.net"})),
    ("alg none", alg_none),
    ("HS256 with the public key as secret", hs256_with_public_key),
    ("unknown kid", lambda k: k.sign(AUD, headers={"kid": "rotated-away"})),
    ("jku not allowed", lambda k: k.sign(AUD, headers={"jku": "https://attacker.example.net/jwks.json"})),
    ("tampered payload", lambda k: tampered(k.sign(AUD))),
    ("not yet valid (nbf)", lambda k: k.sign(AUD, claims={"nbf": int(time.time()) + 600})),
    (
        "issued in the future",
        lambda k: k.sign(AUD, claims={"iat": int(time.time()) + 600, "exp": int(time.time()) + 900}),
    ),
    ("no jti", lambda k: k.sign(AUD, claims={"jti": None})),
    ("lifetime over an hour", lambda k: k.sign(AUD, claims={"exp": int(time.time()) + 7200})),
    ("typ is not JWT", lambda k: k.sign(AUD, headers={"typ": "at+jwt"})),
    (
        "kid missing",
        lambda k: jwt.encode(
            {"iss": ISSUER, "aud": AUD, "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "x"},
            k.ec_private,
            algorithm="ES384",
        ),
    ),
    ("not a JWT at all", lambda k: "not-a-jwt"),
    ("signed by another key", lambda k: EhrKeys.generate().sign(AUD)),
    ("RS384 key used with ES384 header", lambda k: k.sign(AUD, alg="RS384", headers={"kid": KID_EC})),
]


@pytest.mark.parametrize(("case", "make_token"), FAILURES, ids=[row[0] for row in FAILURES])
def test_S2_jwt_failure_is_401_without_detail(
    app: Flask, ehr_keys: EhrKeys, case: str, make_token: Callable[[EhrKeys], str], caplog: pytest.LogCaptureFixture
) -> None:
    token = make_token(ehr_keys)

    response = raw_client(app).post(URL, json=hook_body(), headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401, case
    assert response.json == {"error": "unauthorized", "message": "authentication required"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert token not in caplog.text  # the reason is logged, never the token
    assert "authentication failed" in caplog.text
    records_written()
    assert app.extensions["crs_cds"].repository.audit_rows() == []


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer    "])
def test_S2_missing_or_non_bearer_authorization_is_401(app: Flask, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}

    assert raw_client(app).post(URL, json=hook_body(), headers=headers).status_code == 401


def test_S2_replayed_jti_is_refused(app: Flask, ehr_keys: EhrKeys) -> None:
    token = ehr_keys.sign(AUD)
    client = raw_client(app)

    first = client.post(URL, json=hook_body(), headers={"Authorization": f"Bearer {token}"})
    replay = client.post(URL, json=hook_body(), headers={"Authorization": f"Bearer {token}"})

    assert (first.status_code, replay.status_code) == (200, 401)
    records_written()
    assert len(app.extensions["crs_cds"].repository.audit_rows()) == 1  # nothing written twice


@pytest.mark.parametrize(
    ("case", "make_token"),
    [
        ("ES384", lambda k: k.sign(AUD)),
        ("RS384", lambda k: k.sign(AUD, alg="RS384")),
        ("aud as a list", lambda k: k.sign(AUD, claims={"aud": [AUD, "https://other.example.org"]})),
        ("unknown claims are ignored (Epic adds sub)", lambda k: k.sign(AUD, claims={"sub": "x", "epic.eci": "y"})),
        (
            "exp just passed, within the 60 s leeway",
            lambda k: k.sign(AUD, claims={"exp": int(time.time()) - 30, "iat": int(time.time()) - 300}),
        ),
    ],
)
def test_S2_valid_token_is_accepted(
    app: Flask, ehr_keys: EhrKeys, case: str, make_token: Callable[[EhrKeys], str]
) -> None:
    response = raw_client(app).post(URL, json=hook_body(), headers={"Authorization": f"Bearer {make_token(ehr_keys)}"})

    assert response.status_code == 200, case


@pytest.mark.parametrize(
    ("path", "method"), [("/cds-services", "get"), ("/cds-services/crs-patient-view/feedback", "post")]
)
def test_S2_discovery_and_feedback_require_the_jwt_too(app: Flask, path: str, method: str) -> None:
    response = getattr(raw_client(app), method)(path, json={"feedback": [{"card": "c", "outcome": "accepted"}]})

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
def test_probes_and_document_need_no_jwt(app: Flask, path: str) -> None:
    assert raw_client(app).get(path).status_code == 200


def jwks_client_settings(settings: Any, tmp_path: Any, ehr_keys: EhrKeys, **client: Any) -> Any:
    lines = [f'issuer = "{ISSUER}"'] + [f"{key} = {json.dumps(value)}" for key, value in client.items()]
    path = tmp_path / "clients.toml"
    path.write_text("[[client]]\n" + "\n".join(lines) + "\n")
    return settings.model_copy(update={"clients": path})


@responses.activate
def test_S2_jwks_url_is_fetched_cached_and_refreshed_at_most_once_a_minute(
    settings: Any, tmp_path: Any, ehr_keys: EhrKeys
) -> None:
    from service.app import create_app

    jwks_url = "https://ehr.example.org/.well-known/jwks.json"
    responses.get(jwks_url, json=ehr_keys.jwks())
    app = create_app(jwks_client_settings(settings, tmp_path, ehr_keys, jwks_url=jwks_url))
    client = raw_client(app)

    statuses = [
        client.post(URL, json=hook_body(), headers={"Authorization": f"Bearer {ehr_keys.sign(AUD)}"}).status_code
        for _ in range(3)
    ]
    unknown_kid = [
        client.post(
            URL, json=hook_body(), headers={"Authorization": f"Bearer {ehr_keys.sign(AUD, headers={'kid': 'new'})}"}
        ).status_code
        for _ in range(3)
    ]

    assert statuses == [200, 200, 200]
    assert unknown_kid == [401, 401, 401]
    assert len(responses.calls) == 1  # cached; an unknown kid does not refetch within the minute


@responses.activate
def test_S2_allowed_jku_is_used(settings: Any, tmp_path: Any, ehr_keys: EhrKeys) -> None:
    from service.app import create_app

    jku = "https://ehr.example.org/jwks/2026.json"
    responses.get(jku, json=ehr_keys.jwks())
    app = create_app(jwks_client_settings(settings, tmp_path, ehr_keys, allowed_jku=[jku]))

    response = raw_client(app).post(
        URL, json=hook_body(), headers={"Authorization": f"Bearer {ehr_keys.sign(AUD, headers={'jku': jku})}"}
    )

    assert response.status_code == 200


def test_auth_off_logs_a_loud_warning_at_every_start(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    from service.app import create_app

    app = create_app(settings.model_copy(update={"auth": "off"}))

    assert "CRS_CDS_AUTH=off" in caplog.text
    assert raw_client(app).post(URL, json=hook_body()).status_code == 200
