"""The production HTTP server: gunicorn with options derived from the settings.

``crs-cds serve`` and ``deploy/gunicorn.conf.py`` both take their options from ``gunicorn_options``
so a container and a laptop run the same configuration.
"""

from __future__ import annotations

import gc
import os
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from service.gunicorn_worker import bounded_worker_class
from service.settings import Settings


def gunicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": settings.workers,
        "threads": settings.threads,
        # gthread, with a timeout on every read of a request and JSON bodies for gunicorn's own errors.
        "worker_class": bounded_worker_class(settings.client_read_timeout_seconds),
        # A worker whose threads are all busy (say, with calls to a slow FHIR host) stops accepting, so a new
        # call goes to a worker with a free thread instead of queueing behind them (docs/security.md).
        "worker_connections": settings.threads,
        "timeout": settings.request_timeout_seconds,
        "graceful_timeout": 20,
        # No keep-alive: a kept connection stays with the worker that accepted it, so two busy connections
        # could share one worker (and one core) while another idles. TLS ends at the ingress, so a new
        # connection on the internal hop is cheap; measured in benchmarks/run.py, figure 2.
        "keepalive": 0,
        # The app writes its own JSON access line (request id, endpoint, status, duration; no PHI, no query).
        "accesslog": None,
        "errorlog": "-",
        "child_exit": _child_exit,
        "worker_exit": _worker_exit,
        "forwarded_allow_ips": "127.0.0.1",
        # The app (settings, catalog, policy, migrations) is built once in the master, then forked.
        "preload_app": True,
        # No admin socket: a read-only container has no writable home, and nothing here uses it.
        "control_socket_disable": True,
    }


def _child_exit(_server: Any, worker: Any) -> None:
    """A dead worker's metrics files are merged, not counted as live (prometheus multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _worker_exit(_server: Any, _worker: Any) -> None:
    """A stopping worker writes the records it still holds (bounded; atexit is the second chance)."""
    from service.storage.writer import flush_all  # here: prometheus_client must load after prepare_metrics_dir

    flush_all()


def prepare_metrics_dir() -> None:
    """Workers share counters through files in PROMETHEUS_MULTIPROC_DIR; it must exist before they import."""
    directory = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="crs-cds-metrics-"))
    os.makedirs(directory, exist_ok=True)


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
        tune_garbage_collection()
        return self._app


def tune_garbage_collection() -> None:
    """Fewer, cheaper collections on the request path (each call parses thousands of small objects).

    The preloaded app (policy, catalog, FHIR models) is frozen out of the collector's scans before the
    workers fork, and generation 0 is collected less often; memory stays bounded (figure 4 of the benchmark).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
