"""HTTP hardening shared by every route: CORS for configured origins only, security headers, body limit.

The body limit holds for chunked bodies too: werkzeug stops reading a chunked body at the limit without an
error (the JSON then looks truncated, a 400), so the stream is allowed one byte more and a body that reaches
it is a 413 like a too-large ``Content-Length``.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS
from werkzeug.exceptions import RequestEntityTooLarge

from service.settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # answers carry PHI
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = "max-age=31536000; includeSubDomains"
# (lower-case name, name, value), built once: the hook adds what the response lacks in one pass over its headers
# (a setdefault per header searched the whole list five times, a tenth of the fixed cost outside the view)
SECURITY_ITEMS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())
HSTS_ITEMS = (*SECURITY_ITEMS, ("strict-transport-security", "Strict-Transport-Security", HSTS))


def install(app: Flask, settings: Settings) -> None:
    if settings.cors_origins:
        # Browser-based EHRs (and the CDS Hooks sandbox) need CORS; preflight is answered on every route.
        CORS(
            app,
            origins=list(settings.cors_origins),
            allow_headers=["Authorization", "Content-Type"],
            methods=["GET", "POST", "OPTIONS"],
            max_age=600,
        )
    https_public = (settings.public_base_url or "").startswith("https://")
    install_body_limit(app, settings.max_body_bytes)

    @app.after_request
    def security_headers(response: Response) -> Response:
        add_missing(response, HSTS_ITEMS if https_public or request.is_secure else SECURITY_ITEMS)
        return response


def add_missing(response: Response, items: tuple[tuple[str, str, str], ...]) -> None:
    """Each header the response does not set already (a route's own, e.g. Cache-Control, wins), in order."""
    present = {name.lower() for name, _value in response.headers.items()}
    response.headers.extend([(name, value) for lower, name, value in items if lower not in present])


def install_body_limit(app: Flask, limit: int) -> None:
    app.config["MAX_CONTENT_LENGTH"] = limit + 1  # one byte over the limit tells a chunked body is too large

    @app.before_request
    def body_limit() -> None:
        if request.content_length is not None:
            too_large = request.content_length > limit
        else:
            chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
            too_large = chunked and len(request.get_data(cache=True)) > limit
        if too_large:
            raise RequestEntityTooLarge()
