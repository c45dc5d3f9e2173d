"""Served instances for the HTTP figures: the service (``crs-cds serve``) and a parse-only twin.

The parse-only app is outside the product: one Flask endpoint that parses the body (Flask's ``get_json``) and
answers ``{"cards": []}``, served by the same gunicorn options as the service (``service.server``), so the
ratio of the two throughputs is the cost of crs-cds over the cost of reading the request.

    .venv/bin/python -m benchmarks.served --port 8090     # the parse-only twin, by itself
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, jsonify, request


def parse_only_app() -> Flask:
    app = Flask("parse_only")

    @app.post("/cds-services/<service_id>")
    def parse_only(service_id: str) -> Response:
        assert isinstance(request.get_json(), dict), service_id
        return jsonify({"cards": []})

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    return app


def serve_parse_only(port: int) -> None:
    from service.server import GunicornServer, gunicorn_options
    from service.settings import Settings

    GunicornServer(parse_only_app(), gunicorn_options(Settings(), "127.0.0.1", port)).run()


@contextmanager
def served(
    env: dict[str, str], workers: int = 2, parse_only: bool = False
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """(base URL, master process, seconds from launch to a ready worker) of a served instance on loopback."""
    from tests.integration.conftest import free_port, wait_until_up

    port = free_port()
    folder = Path(tempfile.mkdtemp())
    environment = {
        **os.environ,
        "CRS_CDS_AUTH": "off",
        "CRS_CDS_WORKERS": str(workers),
        "CRS_CDS_DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        **env,
    }
    cli = str(Path(sys.executable).with_name("crs-cds"))
    command = [cli, "serve", "--port", str(port)]
    if parse_only:
        command = [sys.executable, "-m", "benchmarks.served", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, 60)
        yield f"http://127.0.0.1:{port}", process, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, body: str, seconds: int = 15) -> dict[str, float]:
    """Requests per second, p50 and p99 (ms) and non-2xx answers of ``wrk -c2`` posting ``body`` to ``url``."""
    folder = Path(tempfile.mkdtemp())
    (folder / "body.json").write_text(body)
    script = folder / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = io.open("{folder / "body.json"}"):read("*a")\n'
    )
    # Two connections keep both workers (and both cores) busy; more only queue behind the GIL and wrk itself.
    output = subprocess.run(
        ["wrk", "-t1", "-c2", f"-d{seconds}s", "--latency", "-s", str(script), url],  # noqa: S607
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    throughput = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(throughput.group(1)) if throughput else float("nan"),
        "p50": _ms(re.search(r"50%\s+([\d.]+)(\w+)", output)),
        "p99": _ms(re.search(r"99%\s+([\d.]+)(\w+)", output)),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}.get(match.group(2), float("nan"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    serve_parse_only(parser.parse_args().port)
