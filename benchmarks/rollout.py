"""Cost of the per-call record and of silent mode, as ratios measured in one run.

    .venv/bin/python -m benchmarks.rollout

1. In-process patient-view on a 24-hour and a 7-day ICU prefetch: median time with the call record
   written / median time with the write skipped (the record is one INSERT on SQLite).
2. The same call with the service silent / live (silent still renders and records every card).
3. `crs-cds report` over 1,000 recorded calls: time per call record read and reported.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from click.testing import CliRunner

from benchmarks.icu_stay import hook_request, icu_stay
from benchmarks.run import app_at_anchor
from service.cli import main
from service.hooks import calls
from service.storage.writer import flush_all
from tests import fhir_builders


def interleaved(variants: dict[str, Any], body: bytes, rounds: int = 40) -> dict[str, float]:
    """Median seconds per variant, one call of each in turn per round (machine drift hits all alike)."""
    clients = {name: (app.test_client(), skip) for name, (app, skip) in variants.items()}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(rounds + 3):
        for name, (client, skip_record) in clients.items():
            original = calls._write
            if skip_record:
                calls._write = lambda state, row: None
            started = time.perf_counter()
            response = client.post("/cds-services/crs-patient-view", data=body, content_type="application/json")
            elapsed = time.perf_counter() - started
            calls._write = original
            assert response.status_code == 200, response.get_data(as_text=True)
            if round_ >= 3:  # warm-up rounds
                timings[name].append(elapsed)
    return {name: statistics.median(values) for name, values in timings.items()}


def figure_1_and_2(hours: int) -> None:
    body = json.dumps(hook_request(icu_stay(hours))).encode()
    variants = {
        "recorded": (app_at_anchor(), False),
        "unrecorded": (app_at_anchor(), True),
        "silent": (app_at_anchor(silent=("all",)), False),
    }
    median = interleaved(variants, body)
    live, unrecorded, silent = median["recorded"], median["unrecorded"], median["silent"]
    print(
        f"  1. {hours} h prefetch: recorded / not recorded = {live / unrecorded:.2f}x "
        f"(median {live * 1000:.1f} ms vs {unrecorded * 1000:.1f} ms)"
    )
    print(f"  2. {hours} h prefetch: silent / live = {silent / live:.2f}x (median {silent * 1000:.1f} ms)")


def figure_3() -> None:
    app = app_at_anchor()
    body = json.dumps(hook_request(icu_stay(24))).encode()
    client = app.test_client()
    for _ in range(1000):
        client.post("/cds-services/crs-patient-view", data=body, content_type="application/json")
    flush_all()  # the call records are written by the background writer (service.storage.writer)
    url = str(app.extensions["crs_cds"].repository.engine.url)
    day = fhir_builders.NOW.date()
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["report", "--from", str(day), "--to", str(day), "--format", "json"], env={"CRS_CDS_DATABASE_URL": url}
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert sum(row["calls"] or 0 for row in json.loads(result.output)["rules"]) == 1000
    print(f"  3. report over 1,000 calls: {elapsed * 1000:.0f} ms ({elapsed * 1e6 / 1000:.0f} us per call record)")


def main_() -> None:
    for hours in (24, 24 * 7):
        figure_1_and_2(hours)
    figure_3()


if __name__ == "__main__":
    main_()
