"""Speed of crs-cds, as ratios measured in one run (these machines are noisy; compare within a run).

    .venv/bin/python -m benchmarks.run            # needs wrk for figure 2 (Debian: apt-get install wrk)

1. In-process patient-view on a 7-day ICU prefetch: median service time / median json.loads+dumps of the
   same body (target <= 3x).
2. Over HTTP (gunicorn, this machine), a 72-hour prefetch under wrk: throughput, p50 and p99 (target p99
   under 100 ms).
3. No prefetch, every FHIR response delayed 100 ms: total time / one delayed request (target <= 1.5x: the
   four fetches run in parallel).
4. Worker memory (RSS) after 1,000 mixed requests, and the time from launch to a ready worker.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import requests

from benchmarks.icu_stay import hook_request, icu_stay
from service.app import create_app
from service.settings import Settings
from tests import fhir_builders

RESULTS: list[tuple[str, str, str]] = []


def report(figure: str, value: str, target: str) -> None:
    RESULTS.append((figure, value, target))
    print(f"  {figure}: {value} ({target})", flush=True)


def app_at_anchor(**settings: Any) -> Any:
    database = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    app = create_app(Settings(auth="off", database_url=f"sqlite:///{database}", **settings))
    app.extensions["crs_cds"] = dataclasses.replace(app.extensions["crs_cds"], clock=lambda: fhir_builders.NOW)
    return app


def median_seconds(action: Any, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def figure_1() -> None:
    resources = icu_stay(24 * 7)
    body = json.dumps(hook_request(resources)).encode()
    client = app_at_anchor().test_client()

    def call() -> None:
        response = client.post("/cds-services/crs-patient-view", data=body, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)

    for _ in range(3):
        call()
    service = median_seconds(call, 40)
    roundtrip = median_seconds(lambda: json.dumps(json.loads(body)), 40)
    report(
        f"1. in-process patient-view, 7-day ICU stay ({len(resources)} resources, {len(body) / 1e6:.2f} MB)",
        f"{service / roundtrip:.2f}x json.loads+dumps (median {service * 1000:.1f} ms vs {roundtrip * 1000:.1f} ms)",
        "target <= 3x",
    )


@contextmanager
def served(env: dict[str, str], workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
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
    started = time.perf_counter()
    process = subprocess.Popen(
        [cli, "serve", "--port", str(port)], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, 60)
        yield f"http://127.0.0.1:{port}", process, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def figure_2() -> None:
    if shutil.which("wrk") is None:
        report(
            "2. HTTP throughput and latency",
            "not measured: wrk is not installed (apt-get install wrk)",
            "target p99 < 100 ms",
        )
        return
    fhir_builders.NOW = datetime.now(UTC)  # the served app runs on the real clock
    body = json.dumps(hook_request(icu_stay(72)))
    folder = Path(tempfile.mkdtemp())
    (folder / "body.json").write_text(body)
    script = folder / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = io.open("{folder / "body.json"}"):read("*a")\n'
    )
    # Two connections keep both workers (and both cores) busy; more only queue behind the GIL and wrk itself.
    with served({"CRS_CDS_THREADS": "2"}) as (url, _process, _startup):
        output = subprocess.run(
            ["wrk", "-t1", "-c2", "-d15s", "--latency", "-s", str(script), f"{url}/cds-services/crs-patient-view"],  # noqa: S607
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    throughput = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"99%\s+([\d.]+\w+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    value = f"{throughput.group(1) if throughput else '?'} req/s, p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"
    if errors:
        value += f", {errors.group(1)} non-2xx"
    report(
        f"2. HTTP, gunicorn 2 workers x 2 threads, 72 h prefetch ({len(body) / 1e3:.0f} kB), wrk 2 connections 15 s",
        value,
        "target p99 < 100 ms",
    )


class DelayedFhir(BaseHTTPRequestHandler):
    resources: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        time.sleep(0.1)
        kind = self.path.split("?")[0].strip("/").split("/")[1]
        if self.path.startswith("/fhir/Patient/"):
            payload: dict[str, Any] = self.resources[0]
        else:
            payload = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in self.resources if r["resourceType"] == kind],
            }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        return


def figure_3() -> None:
    fhir_builders.NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
    DelayedFhir.resources = icu_stay(72)
    server = ThreadingHTTPServer(("127.0.0.1", 0), DelayedFhir)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/fhir"
    client = app_at_anchor(fhir_allowlist=base).test_client()
    body = {**hook_request(DelayedFhir.resources, with_prefetch=False), "fhirServer": base}

    def call() -> None:
        response = client.post("/cds-services/crs-patient-view", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)

    call()
    one_request = median_seconds(lambda: requests.get(f"{base}/Observation?patient=pat-1", timeout=5), 5)
    service = median_seconds(call, 10)
    server.shutdown()
    report(
        "3. no prefetch, FHIR server delays each response by 100 ms (4 queries)",
        f"{service / one_request:.2f}x one delayed request ({service * 1000:.0f} ms vs {one_request * 1000:.0f} ms)",
        "target <= 1.5x",
    )


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def figure_4() -> None:
    fhir_builders.NOW = datetime.now(UTC)
    view = hook_request(icu_stay(72))
    sign = {**hook_request(icu_stay(24)), "hook": "order-sign"}
    sign["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": fhir_builders.order("tocilizumab", status="draft", dose=(1000, "mg"))}],
    }
    with served({}, workers=1) as (url, process, startup), requests.Session() as session:
        for n in range(1000):
            if n % 4 == 0:
                session.get(f"{url}/cds-services", timeout=10)
            elif n % 4 == 1:
                session.post(f"{url}/cds-services/crs-order-sign", json=sign, timeout=10)
            elif n % 4 == 2:
                session.post(
                    f"{url}/cds-services/crs-patient-view/feedback",
                    json={"feedback": [{"card": f"c{n}", "outcome": "accepted"}]},
                    timeout=10,
                )
            else:
                session.post(f"{url}/cds-services/crs-patient-view", json=view, timeout=10)
        rss = [rss_mb(pid) for pid in worker_pids(process.pid)]
    report(
        "4a. worker RSS after 1,000 mixed requests", f"{max(rss):.0f} MB" if rss else "unknown (no /proc)", "measured"
    )
    report("4b. launch to a ready worker (crs-cds serve, preloaded app, migrations)", f"{startup:.2f} s", "measured")


def main() -> None:
    print("crs-cds benchmark (ratios are within this run)", flush=True)
    for run_figure in (figure_1, figure_2, figure_3, figure_4):
        run_figure()
    print("\n| Figure | Result | Target |\n| --- | --- | --- |")
    for figure, value, target in RESULTS:
        print(f"| {figure} | {value} | {target} |")


if __name__ == "__main__":
    main()
