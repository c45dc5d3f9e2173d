"""The production HTTP server: gunicorn with options derived from the settings.

``crs-cds serve`` and ``deploy/gunicorn.conf.py`` both take their options from ``gunicorn_options``
so a container and a laptop run the same configuration.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from service.settings import Settings


def gunicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread",
        "timeout": settings.request_timeout_seconds,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        # The access log must not carry query strings or tokens: method, path, status, size, duration.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "forwarded_allow_ips": "127.0.0.1",
        # The app (settings, catalog, policy, migrations) is built once in the master, then forked.
        "preload_app": True,
        # No admin socket: a read-only container has no writable home, and nothing here uses it.
        "control_socket_disable": True,
    }


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Runs an already-built Flask app under gunicorn's process manager."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app
