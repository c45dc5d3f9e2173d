"""Bounded outbound HTTP shared by the FHIR client and the JWKS cache.

A neighbour (FHIR server, key server) can drip its body, send it forever or send a decompression bomb. A
per-read timeout bounds none of these: the body is therefore read with ``urllib3``'s ``read1`` (returns what
one receive gave, decompressing at most the bytes asked for) under a wall-clock deadline and a size limit on
the decompressed bytes. A host that keeps failing is short-circuited for a while so its callers fail fast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests

CHUNK_BYTES = 64 * 1024


class OutboundError(Exception):
    """A neighbour's answer broke a bound; ``message`` is safe to log and to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResponseTooLarge(OutboundError):
    """The (decompressed) body is larger than allowed."""


class DeadlineExceeded(OutboundError):
    """The body did not arrive before the wall-clock deadline."""


def read_body(
    response: requests.Response,
    *,
    max_bytes: int,
    ends_at: float,
    monotonic: Callable[[], float] = time.monotonic,
) -> bytes:
    """The decompressed body of a ``stream=True`` response, or OutboundError; the connection is always released.

    The deadline is checked after every receive, so a dripping server is cut off at most one per-read
    timeout after ``ends_at`` (the read timeout is itself never longer than what remained of the deadline).
    """
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes and "Content-Encoding" not in response.headers:
            raise ResponseTooLarge(f"the answer declares {declared} bytes (limit {max_bytes})")
        return _read_chunks(response, max_bytes, ends_at, monotonic)
    finally:
        response.close()


def _read_chunks(response: requests.Response, max_bytes: int, ends_at: float, monotonic: Callable[[], float]) -> bytes:
    body = bytearray()
    while True:
        chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"the answer is larger than {max_bytes} bytes")
        if monotonic() > ends_at:
            raise DeadlineExceeded("the answer did not arrive before the deadline")


class CircuitBreaker:
    """Opens after ``threshold`` failures in a row; while open, calls fail at once; one trial after ``cooldown``."""

    def __init__(
        self, threshold: int, cooldown_seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown_seconds
        self._monotonic = monotonic
        self._failures = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """True if a call may go out now (closed, or the one trial call after the cooldown)."""
        with self._lock:
            if self._failures < self._threshold:
                return True
            now = self._monotonic()
            if now < self._open_until:
                return False
            self._open_until = now + self._cooldown  # half-open: one trial, the others keep failing fast
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self._threshold:
                self._open_until = self._monotonic() + self._cooldown
