"""Cost of the per-call record and of silent mode, as ratios measured in one run.

    .venv/bin/python -m benchmarks.rollout

1. In-process patient-view on a 24-hour and a 7-day ICU prefetch: median time with the call record
   written / median time with the write skipped (the record is one INSERT on SQLite).
2. The same call with the service silent / live (silent still renders and records every card).
3. `crs-cds report` over 1,000 recorded calls: time per call record read and reported.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from click.testing import CliRunner

from benchmarks.icu_stay import hook_request, icu_stay
from benchmarks.run import app_at_anchor, median_seconds
from service.cli import main
from service.storage.call_records import CallRecords
from tests import fhir_builders


def timed_call(app: Any, body: bytes) -> float:
    client = app.test_client()

    def call() -> None:
        response = client.post("/cds-services/crs-patient-view", data=body, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)

    for _ in range(3):
        call()
    return median_seconds(call, 40)


def figure_1_and_2(hours: int) -> None:
    body = json.dumps(hook_request(icu_stay(hours))).encode()
    live = timed_call(app_at_anchor(), body)
    original = CallRecords.add
    CallRecords.add = lambda self, row: None  # type: ignore[method-assign]
    try:
        unrecorded = timed_call(app_at_anchor(), body)
    finally:
        CallRecords.add = original  # type: ignore[method-assign]
    silent = timed_call(app_at_anchor(silent=("all",)), body)
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
    url = str(app.extensions["crs_cds"].repository.engine.url)
    day = fhir_builders.NOW.date()
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["report", "--from", str(day), "--to", str(day + timedelta(days=0))], env={"CRS_CDS_DATABASE_URL": url}
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    print(f"  3. report over 1,000 calls: {elapsed * 1000:.0f} ms ({elapsed * 1e6 / 1000:.0f} us per call record)")


def main_() -> None:
    for hours in (24, 24 * 7):
        figure_1_and_2(hours)
    figure_3()


if __name__ == "__main__":
    main_()
