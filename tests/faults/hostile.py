"""Hostile neighbours on loopback: a FHIR server that misbehaves by path, and a key server.

The FHIR server's first path segment picks the behaviour, so one server plays several hosts' parts:

- ``/healthy/...``   answers at once (a Patient for a read, an empty searchset for a search)
- ``/drip/...``      announces a body and sends one byte every ``DRIP_SECONDS``, until the client leaves
- ``/endless/...``   sends a searchset that never ends, as fast as the client reads
- ``/bomb/...``      a gzip body of ``BOMB_BYTES`` that is a few hundred KiB on the wire
- ``/redirect/...``  302 to ``/elsewhere/...`` (a client that followed it would show up there)
- ``/dots/...``      a searchset whose ``next`` link climbs out of the base with ``..``
- ``/dotsencoded/...`` the same with ``%2e%2E``

Every request is recorded (path and whether it carried a bearer token); a streaming behaviour records when
the client went away. Nothing listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DRIP_SECONDS = 0.1
BOMB_BYTES = 512 * 1024 * 1024
STREAM_CAP_SECONDS = 30.0  # a hostile stream ends by itself even if a client never leaves
STREAM_CAP_BYTES = 256 * 1024 * 1024
EMPTY_BUNDLE = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'


@cache
def gzip_bomb() -> bytes:
    """``BOMB_BYTES`` of a JSON string, gzip-compressed (about 500 KiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"0" * (1024 * 1024)
    parts = [compressor.compress(b'{"resourceType": "Bundle", "id": "')]
    parts += [compressor.compress(block) for _ in range(BOMB_BYTES // len(block))]
    parts.append(compressor.compress(b'"}') + compressor.flush())
    return b"".join(parts)


@dataclass
class Record:
    requests: list[tuple[str, bool]] = field(default_factory=list)
    left_at: list[float] = field(default_factory=list)  # monotonic time a streaming client went away
    sent_bytes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, prefix: str) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests if path.startswith(prefix)]


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving until ``close``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


class HostileFhirServer(LoopbackServer):
    def __init__(self) -> None:
        self.record = Record()
        super().__init__(type("Handler", (_Handler,), {"owner": self}))

    def base(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"


class _Handler(BaseHTTPRequestHandler):
    owner: HostileFhirServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:
        return None

    def do_GET(self) -> None:
        record = self.owner.record
        with record.lock:
            record.requests.append((self.path, self.headers.get("Authorization", "").startswith("Bearer ")))
        behaviour = self.path.split("/")[1]
        getattr(self, f"_{behaviour}", self._healthy)()

    def _send_head(self, status: int = 200, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _body(self, body: bytes, status: int = 200, **headers: str) -> None:
        self._send_head(status, Content_Length=str(len(body)), **headers)
        self.wfile.write(body)

    def _healthy(self) -> None:
        resource_path = self.path.split("?")[0].split("/")
        if "?" not in self.path and len(resource_path) >= 4:
            self._body(json.dumps({"resourceType": resource_path[2], "id": resource_path[3]}).encode())
        else:
            self._body(EMPTY_BUNDLE)

    def _drip(self) -> None:
        self._send_head(Content_Length=str(10**6))
        self._stream(lambda: b" ", DRIP_SECONDS)

    def _endless(self) -> None:
        self._send_head(Connection="close")
        self.wfile.write(b'{"resourceType": "Bundle", "type": "searchset", "entry": [')
        entry = b'{"resource": {"resourceType": "Basic", "id": "x"}},' * 1300
        self._stream(lambda: entry, 0)

    def _bomb(self) -> None:
        self._body(gzip_bomb(), Content_Encoding="gzip")

    def _redirect(self) -> None:
        self._body(b"", 302, Location=f"http://127.0.0.1:{self.owner.port}/elsewhere/Observation")

    def _dots(self, climb: str = "..") -> None:
        if "page=" in self.path:
            return self._healthy()
        base = self.owner.base(self.path.split("/")[1])
        next_url = f"{base}/{climb}/evil/Observation?page=2"
        bundle = {"resourceType": "Bundle", "type": "searchset", "link": [{"relation": "next", "url": next_url}]}
        self._body(json.dumps(bundle).encode())
        return None

    def _dotsencoded(self) -> None:
        self._dots("%2e%2E")

    def _stream(self, chunk: Any, pause: float) -> None:
        record, sent, ends_at = self.owner.record, 0, time.monotonic() + STREAM_CAP_SECONDS
        try:
            while not self.owner.stop.is_set() and time.monotonic() < ends_at and sent < STREAM_CAP_BYTES:
                data = chunk()
                self.wfile.write(data)
                self.wfile.flush()
                sent += len(data)
                if pause:
                    time.sleep(pause)
        except OSError:
            with record.lock:
                record.left_at.append(time.monotonic())
        finally:
            with record.lock:
                record.sent_bytes.append(sent)
            self.close_connection = True


class KeyServer(LoopbackServer):
    """A JWKS endpoint on loopback: ``/ok`` serves keys, ``/fail`` answers 500, ``/slow`` waits first."""

    def __init__(self, jwks: dict[str, Any], slow_seconds: float = 2.0) -> None:
        self.hits: dict[str, int] = {"ok": 0, "fail": 0, "slow": 0}
        self.slow_seconds = slow_seconds
        owner = self
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return None

            def do_GET(self) -> None:
                kind = self.path.strip("/")
                owner.hits[kind] = owner.hits.get(kind, 0) + 1
                if kind == "slow":
                    time.sleep(owner.slow_seconds)
                status, payload = (500, b"{}") if kind == "fail" else (200, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        super().__init__(Handler)

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}"
