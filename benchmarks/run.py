"""Speed of crs-cds, as ratios measured in one run (these machines are noisy; compare within a run).

    apt-get update && apt-get install wrk         # once, for figure 2 (not needed by CI)
    .venv/bin/python -m benchmarks.run

1. In-process patient-view on ICU charts of 1, 7 and 30 days and on 3 days with a temperature patch reading
   every minute, posted straight into the WSGI app as gunicorn's worker does (``wsgi_post``): median service
   time / median json.loads+dumps of the same body, both under a served worker's
   garbage-collector settings (targets: 1 day <= 2x, 7 days <= 1.5x, the patch chart <= 1.5x, 30 days within
   10 % of the 7-day ratio: a flat cost per resource); and, measured, 7 days with a minute-by-minute patch over
   the 100 h since tocilizumab (the escalation scan reads the managed grade at every one of those events).
2. Over HTTP (gunicorn 2 workers x 2 threads, wrk 2 connections), a 72-hour prefetch: the service's
   throughput / that of a parse-only endpoint served with the same gunicorn options (``benchmarks.served``),
   both served at once and measured in three alternating 5 s runs each,
   target >= 0.5x, and the service's p99 (target < 100 ms).
3. No prefetch, every FHIR response delayed 100 ms, the drugs named by ``medicationReference``: total time /
   one delayed request (target <= 1.3x with a server that answers ``_include``); and, measured, a server that
   ignores ``_include``, so that the Medications are read after the searches.
4. Worker memory (RSS) after 1,000 mixed requests (target not above 87 MB + 20 %), and launch to a ready worker.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from werkzeug.test import EnvironBuilder

from benchmarks.delayed_fhir import delayed_fhir
from benchmarks.icu_stay import hook_request, icu_stay, with_medication_references, with_temperature_patch
from benchmarks.served import served, wrk
from service.app import create_app
from service.server import tune_garbage_collection
from service.settings import Settings
from tests import fhir_builders

RESULTS: list[tuple[str, str, str]] = []
RSS_BEFORE_MB = 87  # figure 4a before issue 13


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


def wsgi_post(app: Any, path: str, body: bytes) -> Any:
    """A POST straight into the WSGI app, as gunicorn's worker makes it: the environ is built once (werkzeug's
    test client would rebuild it, and its request and response wrappers, on every call: harness cost, not
    the service's) and given a fresh body stream each time."""
    base = EnvironBuilder(path=path, method="POST", data=body, content_type="application/json").get_environ()

    def call() -> bytes:
        statuses: list[str] = []
        chunks = app(
            {**base, "wsgi.input": io.BytesIO(body)}, lambda status, _headers, _exc=None: statuses.append(status)
        )
        answer = b"".join(chunks)
        assert statuses[0].startswith("200"), answer[:500]
        return answer

    return call


def in_process_ratio(resources: list[dict[str, Any]], repeat: int) -> tuple[float, float, float]:
    """(ratio, service median s, json.loads+dumps median s) of one in-process patient-view call."""
    body = json.dumps(hook_request(resources)).encode()
    call = wsgi_post(app_at_anchor(), "/cds-services/crs-patient-view", body)
    for _ in range(3):
        call()
    roundtrip = median_seconds(lambda: json.dumps(json.loads(body)), repeat)
    service = median_seconds(call, repeat)
    return service / roundtrip, service, roundtrip


def figure_1() -> None:
    fhir_builders.NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
    patch_after_doses = with_temperature_patch(icu_stay(24 * 7), 100)
    charts: tuple[tuple[str, str, list[dict[str, Any]], int, float | str], ...] = (
        ("1a", "1 day", icu_stay(24), 60, 2.0),
        ("1b", "7 days", icu_stay(24 * 7), 30, 1.5),
        ("1c", "30 days", icu_stay(24 * 30), 10, "flat"),
        ("1d", "3 days + a temperature patch reading every minute", with_temperature_patch(icu_stay(72), 72), 10, 1.5),
        ("1e", "7 days + a minute-by-minute patch over the 100 h since tocilizumab", patch_after_doses, 5, "measured"),
    )
    ratios: dict[str, float] = {}
    for number, name, resources, repeat, limit in charts:
        ratio, service, roundtrip = in_process_ratio(resources, repeat)
        ratios[number] = ratio
        report(
            f"{number}. in-process patient-view, {name} ({len(resources)} resources)",
            f"{ratio:.2f}x json.loads+dumps (median {service * 1000:.1f} ms vs {roundtrip * 1000:.1f} ms; "
            f"{service / len(resources) * 1e6:.1f} us per resource)",
            _figure_1_target(limit, ratio, ratios),
        )


def _figure_1_target(limit: float | str, ratio: float, ratios: dict[str, float]) -> str:
    if limit == "measured":  # the escalation scan at every event of a long stretch after a dose
        return "measured"
    if limit == "flat":
        drift = ratio / ratios["1b"] - 1
        downward = "; downward: cheaper per resource than 1b, no growth with chart size" if drift < -0.10 else ""
        return f"target within 10 % of 1b: {drift:+.0%} {verdict(abs(drift) <= 0.10)}{downward}"
    return f"target <= {limit}x {verdict(ratio <= float(limit))}"


def verdict(met: bool) -> str:
    return "(met)" if met else "(MISSED)"


def figure_2() -> None:
    name = "2. HTTP, gunicorn 2 workers x 2 threads, 72 h prefetch, wrk 2 connections, 3 alternating 5 s runs each"
    if shutil.which("wrk") is None:
        report(name, "not measured: wrk is not installed (apt-get install wrk)", "target >= 0.5x, p99 < 100 ms")
        return
    fhir_builders.NOW = datetime.now(UTC)  # the served app runs on the real clock
    body = json.dumps(hook_request(icu_stay(72)))
    path = "/cds-services/crs-patient-view"
    # Both are served at once and measured in turns, so a change in the machine's load falls on both alike.
    with (
        served({"CRS_CDS_THREADS": "2"}, parse_only=True) as (parse_only_url, _, _),
        served({"CRS_CDS_THREADS": "2"}) as (service_url, _, _),
    ):
        runs = [(wrk(f"{parse_only_url}{path}", body, 5), wrk(f"{service_url}{path}", body, 5)) for _ in range(3)]
    baseline, service = (_combined([pair[side] for pair in runs]) for side in (0, 1))
    ratio = service["rps"] / baseline["rps"]
    errors = f", {service['errors']:.0f} non-2xx" if service["errors"] else ""
    report(
        f"{name} ({len(body) / 1e3:.0f} kB)",
        f"{ratio:.2f}x a parse-only endpoint ({service['rps']:.0f} vs {baseline['rps']:.0f} req/s); service p50 "
        f"{service['p50']:.1f} ms, p99 {service['p99']:.1f} ms (parse-only p99 {baseline['p99']:.1f} ms){errors}",
        f"target >= 0.5x {verdict(ratio >= 0.5)}, p99 < 100 ms {verdict(service['p99'] < 100)}",
    )


def _combined(runs: list[dict[str, float]]) -> dict[str, float]:
    """Mean throughput, median p50, worst p99 and all errors of equal-length wrk runs."""
    return {
        "rps": statistics.mean(run["rps"] for run in runs),
        "p50": statistics.median(run["p50"] for run in runs),
        "p99": max(run["p99"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
    }


def fallback_seconds(resources: list[dict[str, Any]], honour_include: bool) -> tuple[float, float]:
    """(service median s, one delayed request median s) of a patient-view call that fetches everything."""
    with delayed_fhir(resources, honour_include) as base:
        client = app_at_anchor(fhir_allowlist=base).test_client()
        body = {**hook_request(resources, with_prefetch=False), "fhirServer": base}

        def call() -> None:
            response = client.post("/cds-services/crs-patient-view", json=body)
            assert response.status_code == 200, response.get_data(as_text=True)

        call()
        one_request = median_seconds(lambda: requests.get(f"{base}/Observation?patient=pat-1", timeout=5), 5)
        return median_seconds(call, 10), one_request


def figure_3() -> None:
    fhir_builders.NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
    resources = with_medication_references(icu_stay(72))
    medications = sum(1 for r in resources if r["resourceType"] == "Medication")
    service, one = fallback_seconds(resources, honour_include=True)
    report(
        f"3a. no prefetch, FHIR server delays each answer 100 ms, 4 searches, {medications} Medications by _include",
        f"{service / one:.2f}x one delayed request ({service * 1000:.0f} ms vs {one * 1000:.0f} ms)",
        f"target <= 1.3x {verdict(service / one <= 1.3)}",
    )
    service, one = fallback_seconds(resources, honour_include=False)
    report(
        f"3b. the same, server ignores _include: {medications} Medications read after the searches, in parallel",
        f"{service / one:.2f}x one delayed request ({service * 1000:.0f} ms vs {one * 1000:.0f} ms)",
        "measured (two rounds: the references are known only from the searches)",
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
        "4a. worker RSS after 1,000 mixed requests",
        f"{max(rss):.0f} MB" if rss else "unknown (no /proc)",
        f"target <= {RSS_BEFORE_MB * 1.2:.0f} MB (87 MB + 20 %) {verdict(bool(rss) and max(rss) <= RSS_BEFORE_MB * 1.2)}",
    )
    report("4b. launch to a ready worker (crs-cds serve, preloaded app, migrations)", f"{startup:.2f} s", "measured")


def main() -> None:
    print("crs-cds benchmark (ratios are within this run)", flush=True)
    # In-process figures run under the collector settings of a served worker (frozen app, rarer collections),
    # the baseline as well: with the defaults, a full collection lands in some calls and not others, and
    # the medians of the same code moved by a third from run to run.
    tune_garbage_collection()
    for run_figure in (figure_1, figure_2, figure_3, figure_4):
        run_figure()
    print("\n| Figure | Result | Target |\n| --- | --- | --- |")
    for figure, value, target in RESULTS:
        print(f"| {figure} | {value} | {target} |")


if __name__ == "__main__":
    main()
