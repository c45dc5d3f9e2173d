"""gunicorn's threaded worker with two changes: slow clients time out, and its own errors are JSON.

- Every read of a request's head and body times out after ``read_timeout`` seconds: a client that opens a
  connection and sends nothing more (or drips) loses its thread, instead of holding it as long as it likes.
  The reverse proxy in front bounds the total time (docs/operations.md); this is the second line.
- Errors that gunicorn answers itself, before the app sees the request (head too large: 431, request line
  too long: 414, malformed: 400), get the same JSON body as every other error instead of an HTML page.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import TConn, ThreadWorker

STATUS = {
    http_errors.LimitRequestHeaders: (431, "Request Header Fields Too Large", "headers_too_large"),
    http_errors.LimitRequestLine: (414, "URI Too Long", "uri_too_long"),
}
MESSAGES = {
    "headers_too_large": "the request headers are too large (a header, or the token in Authorization, is over 8 KB)",
    "uri_too_long": "the request line is too long",
    "bad_request": "the request is not valid HTTP",
}


def bounded_worker_class(read_timeout: float) -> type:
    """A gthread worker class whose connections time out after ``read_timeout`` seconds per read."""

    class BoundedConn(TConn):  # type: ignore[misc]
        def init(self) -> None:
            super().init()
            self.sock.settimeout(read_timeout)

    class BoundedThreadWorker(ThreadWorker):  # type: ignore[misc]
        def accept(self, listener: Any) -> None:
            """As gthread's accept, with a connection that times out."""
            try:
                client_sock, client_addr = listener.accept()
                self.nr_conns += 1
                client_sock.setblocking(True)
                self.enqueue_req(BoundedConn(self.cfg, client_sock, client_addr, listener.getsockname()))
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    raise

        def handle_error(self, req: Any, client: Any, addr: Any, exc: Exception) -> None:
            if not isinstance(exc, http_errors.ParseException) or isinstance(exc, http_errors.ConfigurationProblem):
                super().handle_error(req, client, addr, exc)
                return
            status, reason, code = STATUS.get(type(exc), (400, "Bad Request", "bad_request"))
            self.log.warning("invalid request (%s): %s", code, type(exc).__name__)
            write_json_error(client, status, reason, code)

    return BoundedThreadWorker


def write_json_error(client: Any, status: int, reason: str, code: str) -> None:
    body = json.dumps({"error": code, "message": MESSAGES[code]}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    try:
        client.sendall(head.encode("latin-1") + body)
    except OSError:
        return  # the client is gone; nothing more to tell it
