"""HTTP hardening shared by every route: CORS for configured origins only, and security headers."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS

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

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if https_public or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
