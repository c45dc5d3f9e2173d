"""A FHIR server double on loopback that delays every answer by 100 ms (figure 3 of ``benchmarks.run``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

DELAY_SECONDS = 0.1


class DelayedFhir(BaseHTTPRequestHandler):
    resources: ClassVar[list[dict[str, Any]]] = []
    honour_include: ClassVar[bool] = True

    def do_GET(self) -> None:
        time.sleep(DELAY_SECONDS)
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")  # fhir, Type[, id]
        if len(parts) == 3:
            found = [r for r in self.resources if r["resourceType"] == parts[1] and r.get("id") == parts[2]]
            self._send(found[0] if found else {"resourceType": "OperationOutcome"}, 200 if found else 404)
            return
        matches = [r for r in self.resources if r["resourceType"] == parts[1]]
        entries = [{"resource": r, "search": {"mode": "match"}} for r in matches]
        if self.honour_include and parse_qs(url.query).get("_include"):
            entries += [{"resource": r, "search": {"mode": "include"}} for r in self._included(matches)]
        self._send({"resourceType": "Bundle", "type": "searchset", "entry": entries}, 200)

    def _included(self, matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = {m["medicationReference"]["reference"] for m in matches if "medicationReference" in m}
        return [r for r in self.resources if f"{r['resourceType']}/{r.get('id')}" in wanted]

    def _send(self, payload: dict[str, Any], status: int) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        return


@contextmanager
def delayed_fhir(resources: list[dict[str, Any]], honour_include: bool) -> Iterator[str]:
    """The base URL of a delayed server holding ``resources``; ``honour_include``: answer ``_include``."""
    DelayedFhir.resources = resources
    DelayedFhir.honour_include = honour_include
    server = ThreadingHTTPServer(("127.0.0.1", 0), DelayedFhir)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/fhir"
    finally:
        server.shutdown()
        server.server_close()
