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
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if https_public or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


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
