"""Verification of the EHR's CDS Hooks 2.0 JWT.

Order of checks: well-formed, asymmetric ``alg`` with a ``kid``, a trusted ``iss`` that may use that
algorithm, the key from the issuer's JWKS (or an allowed ``jku``), signature, ``aud`` = the endpoint
called, ``exp``/``iat``/``nbf`` with leeway, a bounded lifetime, the tenant, and a ``jti`` never seen
before by any worker. Unknown claims (Epic's ``sub``) are ignored. Any failure is AuthenticationFailed:
the reason is for the log, never for the response, and never contains the token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt
import requests
import urllib3

from service.outbound import OutboundError, read_body
from service.security.clients import ASYMMETRIC, TrustedClient


class AuthenticationFailed(Exception):
    """The caller could not be authenticated; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplayGuard(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool: ...


@dataclass(frozen=True)
class Caller:
    issuer: str
    client: TrustedClient
    tenant: str | None


@dataclass
class _KeySet:
    """What is known of one JWKS URL: its keys, when it may be fetched again, and the fetch in flight."""

    keys: jwt.PyJWKSet | None = None
    next_fetch_at: float = 0.0
    failures: int = 0
    in_flight: threading.Event | None = None


class JwksCache:
    """JWKS by URL, fetched with requests, refreshed on an unknown ``kid`` at most once per interval.

    A failed fetch is remembered too, with a backoff that doubles up to ``max_backoff_seconds``, so tokens
    with made-up kids cannot make us hammer a failing key server. At most one fetch per URL is in flight;
    the lock is never held while fetching, so tokens whose key is cached never wait for a slow key server.
    Each fetch is bounded: ``timeout`` seconds for the whole body and ``max_bytes`` of JWKS.
    """

    def __init__(
        self,
        session: requests.Session,
        refresh_seconds: float,
        timeout: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        max_bytes: int = 256 * 1024,
        max_backoff_seconds: float = 300.0,
    ) -> None:
        self._session = session
        self._refresh_seconds = refresh_seconds
        self._timeout = timeout
        self._monotonic = monotonic
        self._max_bytes = max_bytes
        self._max_backoff = max_backoff_seconds
        self._sets: dict[str, _KeySet] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, url: str, kid: str) -> jwt.PyJWK:
        for _attempt in range(2):  # a fetch (ours or another thread's), then one more look
            found, fetch, waiting = self._look_up(url, kid)
            if found is not None:
                return found
            if fetch is not None:
                self._refresh(url, fetch)
            elif waiting is not None:
                waiting.wait(self._timeout + 1)
            else:
                break  # fetched recently, or backing off after a failure
        raise AuthenticationFailed("unknown kid")

    def _look_up(self, url: str, kid: str) -> tuple[jwt.PyJWK | None, threading.Event | None, threading.Event | None]:
        """The key if cached; else an event to set after fetching (we fetch) or to wait on (another thread)."""
        with self._lock:
            state = self._sets.setdefault(url, _KeySet())
            found = self._find(state.keys, kid)
            if found is not None or state.in_flight is not None:
                return found, None, state.in_flight
            if self._monotonic() < state.next_fetch_at:
                return None, None, None
            state.in_flight = threading.Event()
            return None, state.in_flight, None

    def _refresh(self, url: str, done: threading.Event) -> None:
        keys: jwt.PyJWKSet | None = None
        try:
            keys = self._fetch(url)
        except AuthenticationFailed:
            pass  # remembered below; the caller reports the kid as unknown
        finally:
            with self._lock:
                state = self._sets[url]
                state.failures = 0 if keys is not None else state.failures + 1
                state.keys = keys if keys is not None else state.keys
                delay = self._refresh_seconds if keys is not None else self._backoff(state.failures)
                state.next_fetch_at = self._monotonic() + delay
                state.in_flight = None
            done.set()

    def _backoff(self, failures: int) -> float:
        return float(min(self._max_backoff, 5.0 * 2 ** min(failures - 1, 16)))

    def _fetch(self, url: str) -> jwt.PyJWKSet:
        self.fetches += 1
        ends_at = self._monotonic() + self._timeout
        try:
            response = self._session.get(url, timeout=self._timeout, allow_redirects=False, stream=True)
            if response.status_code != 200:
                response.close()
                raise AuthenticationFailed(f"JWKS unavailable (HTTP {response.status_code})")
            body = read_body(response, max_bytes=self._max_bytes, ends_at=ends_at, monotonic=self._monotonic)
            return jwt.PyJWKSet.from_dict(json.loads(body))
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
            OutboundError,
            ValueError,
            RecursionError,
            AttributeError,
            TypeError,
            KeyError,
            jwt.PyJWKSetError,
            jwt.InvalidKeyError,
        ) as error:
            raise AuthenticationFailed(f"JWKS unavailable ({type(error).__name__})") from error

    @staticmethod
    def _find(key_set: jwt.PyJWKSet | None, kid: str) -> jwt.PyJWK | None:
        if key_set is None:
            return None
        return next((key for key in key_set.keys if key.key_id == kid), None)


class JwtVerifier:
    def __init__(
        self,
        clients: dict[str, TrustedClient],
        jwks: JwksCache,
        replay: ReplayGuard,
        *,
        leeway_seconds: int,
        max_lifetime_seconds: int,
    ) -> None:
        self._clients = clients
        self._jwks = jwks
        self._replay = replay
        self._leeway = leeway_seconds
        self._max_lifetime = max_lifetime_seconds

    def verify(self, token: str, audience: str) -> Caller:
        header, unverified = _unverified_parts(token)
        client = self._clients.get(str(unverified.get("iss")))
        if client is None:
            raise AuthenticationFailed("untrusted issuer")
        alg = header["alg"]
        if alg not in client.algorithms:
            raise AuthenticationFailed(f"algorithm {alg} not allowed for this issuer")
        claims = self._decode(token, client, header, audience)
        if client.tenant is not None and claims.get("tenant") != client.tenant:
            raise AuthenticationFailed("wrong tenant")
        expires_at = datetime.fromtimestamp(float(claims["exp"]), tz=UTC)
        if not self._replay.first_use(client.issuer, str(claims["jti"]), expires_at):
            raise AuthenticationFailed("replayed jti")
        return Caller(client.issuer, client, claims.get("tenant"))

    def _decode(self, token: str, client: TrustedClient, header: dict[str, Any], audience: str) -> dict[str, Any]:
        key = self._key(client, header)
        if not key_fits_algorithm(key, header["alg"]):
            raise AuthenticationFailed("the key named by kid does not fit the algorithm")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[header["alg"]],
                audience=audience,
                issuer=client.issuer,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except (jwt.PyJWTError, TypeError, ValueError) as error:  # PyJWT lets some key errors escape its tree
            raise AuthenticationFailed(f"token rejected ({type(error).__name__})") from error
        if float(claims["exp"]) - float(claims["iat"]) > self._max_lifetime:
            raise AuthenticationFailed("token lifetime too long")
        return claims

    def _key(self, client: TrustedClient, header: dict[str, Any]) -> jwt.PyJWK:
        kid = str(header["kid"])
        jku = header.get("jku")
        if jku is not None:
            if jku not in client.allowed_jku:
                raise AuthenticationFailed("jku not allowed for this issuer")
            return self._jwks.key(str(jku), kid)
        if client.jwks is not None:
            key = next((k for k in jwt.PyJWKSet.from_dict(client.jwks).keys if k.key_id == kid), None)
            if key is None:
                raise AuthenticationFailed("unknown kid")
            return key
        if client.jwks_url is None:
            raise AuthenticationFailed("no key source for this issuer")
        return self._jwks.key(client.jwks_url, kid)


KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def key_fits_algorithm(key: jwt.PyJWK, alg: str) -> bool:
    """The JWK's key type must be the algorithm's family (RSA for RS/PS, EC for ES, OKP for EdDSA).

    PyJWT raises TypeError, not a PyJWTError, when an EC key meets an RSA algorithm: checked here first.
    """
    return bool(key.key_type == KEY_TYPES.get(alg[:2]))


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise AuthenticationFailed("malformed token") from error
    if header.get("alg") not in ASYMMETRIC:
        raise AuthenticationFailed(f"algorithm {header.get('alg')!r} refused")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise AuthenticationFailed("kid missing")
    if "typ" in header and str(header["typ"]).upper() != "JWT":
        raise AuthenticationFailed("typ is not JWT")
    return header, claims
