"""Hostile key servers (issue 12 item 4) and loopback decided by parsing (item 7), audience base (item 8)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from service.app import create_app
from service.cli import main
from service.fhir.fetcher import pooled_session
from service.security.clients import ClientsError, TrustedClient
from service.security.jwt_auth import AuthenticationFailed, JwksCache
from service.settings import Settings
from tests.faults.hostile import KeyServer
from tests.jwt_support import KID_EC, EhrKeys


@pytest.fixture
def key_server(ehr_keys: EhrKeys) -> Iterator[KeyServer]:
    server = KeyServer(ehr_keys.jwks(), slow_seconds=1.0)
    yield server
    server.close()


def unknown_kid(cache: JwksCache, url: str, kid: str) -> None:
    with pytest.raises(AuthenticationFailed, match="unknown kid"):
        cache.key(url, kid)


def test_item4_a_failing_key_server_is_asked_once_however_many_unknown_kids_arrive(key_server: KeyServer) -> None:
    cache = JwksCache(pooled_session(4), refresh_seconds=60)

    for index in range(50):
        unknown_kid(cache, key_server.url("fail"), f"made-up-{index}")

    assert key_server.hits["fail"] == 1


def test_item4_the_backoff_after_failures_doubles() -> None:
    clock = [0.0]
    cache = JwksCache(pooled_session(1), refresh_seconds=60, monotonic=lambda: clock[0])
    url = "http://127.0.0.1:9/unreachable"  # the discard port: connection refused at once

    unknown_kid(cache, url, "a")
    for now, expected in ((4.9, 1), (5.0, 2), (14.9, 2), (15.0, 3)):
        clock[0] = now
        unknown_kid(cache, url, "a")
        assert cache.fetches == expected


def test_item4_a_cached_key_never_waits_for_a_slow_refetch_and_one_fetch_is_in_flight(
    key_server: KeyServer,
) -> None:
    offset = [0.0]
    cache = JwksCache(pooled_session(4), refresh_seconds=60, timeout=3, monotonic=lambda: time.monotonic() + offset[0])
    url = key_server.url("slow")
    key_server.slow_seconds = 0
    cache.key(url, KID_EC)  # cached
    key_server.slow_seconds = 1.0
    offset[0] = 61  # a refetch for an unknown kid is allowed again
    unknown = [threading.Thread(target=unknown_kid, args=(cache, url, "rotated-away")) for _ in range(10)]
    for thread in unknown:
        thread.start()
    time.sleep(0.2)  # the refetch for the unknown kid is in flight

    started = time.monotonic()
    key = cache.key(url, KID_EC)
    waited = time.monotonic() - started
    for thread in unknown:
        thread.join(timeout=5)

    assert key.key_id == KID_EC
    assert waited < 0.2
    assert key_server.hits["slow"] == 2  # the priming fetch, then one refetch for all ten callers


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.attacker.example/jwks.json",
        "http://localhost.attacker.example/jwks.json",
        "http://127.0.0.1@attacker.example/jwks.json",
        "http://attacker.example/127.0.0.1/jwks.json",
    ],
)
@pytest.mark.parametrize("field", ["jwks_url", "allowed_jku"])
def test_item7_loopback_is_decided_by_the_parsed_host(url: str, field: str) -> None:
    value: object = url if field == "jwks_url" else (url,)

    with pytest.raises(ValidationError, match="https URL"):
        TrustedClient.model_validate({"issuer": "https://ehr.example.org", field: value})


def test_item7_a_real_loopback_key_server_may_use_http() -> None:
    client = TrustedClient(issuer="https://ehr.example.org", jwks_url="http://127.0.0.1:8081/jwks.json")

    assert client.jwks_url == "http://127.0.0.1:8081/jwks.json"


def test_item7_check_config_refuses_the_look_alike_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = tmp_path / "clients.toml"
    clients.write_text(
        '[[client]]\nissuer = "https://ehr.example.org"\njwks_url = "http://127.0.0.1.attacker.example/jwks.json"\n'
    )
    monkeypatch.setenv("CRS_CDS_CLIENTS", str(clients))
    monkeypatch.setenv("CRS_CDS_PUBLIC_BASE_URL", "https://crs-cds.example.org")

    result = CliRunner().invoke(main, ["check-config"])

    assert result.exit_code == 2
    assert "must be an https URL" in result.output


def test_item8_the_service_refuses_to_start_with_auth_on_and_no_public_base_url(
    database_url: str, clients_file: Path
) -> None:
    settings = Settings(auth="on", clients=clients_file, database_url=database_url, auto_migrate=False)

    with pytest.raises(ClientsError, match="CRS_CDS_PUBLIC_BASE_URL is not set"):
        create_app(settings)
