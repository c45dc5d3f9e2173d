"""Hostile FHIR servers (issue 12 items 1, 2, 6, 9): each call is bounded and other callers do not feel it."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.faults.conftest import fetching_body
from tests.faults.hostile import DRIP_SECONDS, HostileFhirServer, gzip_bomb

PATIENT_VIEW = "/cds-services/crs-patient-view"
DEADLINE = 2.0


def call(app: Flask, body: dict[str, Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = app.test_client().post(PATIENT_VIEW, json=body)
    return response, time.monotonic() - started


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_item1_a_dripping_host_is_cut_off_at_the_deadline_and_a_healthy_host_is_not_delayed(
    make_app: Callable[..., Flask], hostile: HostileFhirServer, other_host: HostileFhirServer
) -> None:
    app = make_app(fhir_max_workers=2, fhir_breaker_failures=100)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        drips = [pool.submit(call, app, fetching_body(hostile.base("drip"))) for _ in range(8)]
        time.sleep(0.3)  # the dripping host's reads are under way
        healthy, healthy_seconds = call(app, fetching_body(other_host.base("healthy")))
        answers = [future.result(timeout=15) for future in drips]

    assert healthy.status_code == 200
    assert healthy_seconds < 1.0
    assert {response.status_code for response, _ in answers} == {412}
    assert max(seconds for _, seconds in answers) < DEADLINE + 1.0
    started_reads = len(hostile.record.paths("/drip"))
    assert started_reads >= 1
    wait_for(lambda: len(hostile.record.left_at) == started_reads, seconds=DEADLINE + 1)
    assert max(hostile.record.left_at) - started < DEADLINE + 1.5  # no read goes on after the answer


def test_item1_a_host_that_keeps_timing_out_is_short_circuited(
    make_app: Callable[..., Flask], hostile: HostileFhirServer
) -> None:
    app = make_app(fhir_deadline_seconds=0.6, fhir_timeout_seconds=0.5, fhir_breaker_failures=2)
    for _ in range(2):
        assert call(app, fetching_body(hostile.base("drip")))[0].status_code == 412
    wait_for(lambda: len(hostile.record.left_at) == 2, seconds=2)  # both reads gave up (and were counted)

    response, seconds = call(app, fetching_body(hostile.base("drip")))

    assert response.status_code == 412
    assert "paused" in response.json["message"]
    assert seconds < 0.3
    assert len(hostile.record.paths("/drip")) == 2


def test_item2_an_endless_body_is_cut_at_the_size_limit(
    make_app: Callable[..., Flask], hostile: HostileFhirServer
) -> None:
    app = make_app()

    response, seconds = call(app, fetching_body(hostile.base("endless")))

    assert response.status_code == 412
    assert "larger than 1048576 bytes" in response.json["message"]
    assert seconds < 1.5
    wait_for(lambda: len(hostile.record.sent_bytes) == 1, seconds=3)
    assert hostile.record.sent_bytes[0] < 32 * 1024 * 1024  # the client stopped reading (socket buffers aside)


def test_item2_a_gzip_bomb_is_cut_at_the_size_limit_on_the_decompressed_stream(
    make_app: Callable[..., Flask], hostile: HostileFhirServer
) -> None:
    app = make_app()
    gzip_bomb()  # built before the call: a server slow to start sending is another test
    before = rss_bytes()

    response, seconds = call(app, fetching_body(hostile.base("bomb")))

    assert response.status_code == 412
    assert "larger than 1048576 bytes" in response.json["message"]
    assert seconds < 1.5
    assert rss_bytes() - before < 64 * 1024 * 1024  # the bomb is 512 MiB decompressed


def test_a_redirect_is_not_followed_and_the_token_goes_nowhere_else(
    make_app: Callable[..., Flask], hostile: HostileFhirServer
) -> None:
    response, _ = call(make_app(), fetching_body(hostile.base("redirect")))

    assert response.status_code == 412
    assert "HTTP 302" in response.json["message"]
    assert hostile.record.paths("/elsewhere") == []


@pytest.mark.parametrize("behaviour", ["dots", "dotsencoded"])
def test_item6_a_next_link_with_dot_segments_never_leaves_the_base_path(
    make_app: Callable[..., Flask], hostile: HostileFhirServer, behaviour: str
) -> None:
    response, _ = call(make_app(), fetching_body(hostile.base(behaviour)))

    assert response.status_code == 200
    assert [path for path, _ in hostile.record.requests if "evil" in path] == []
    assert len(hostile.record.paths(f"/{behaviour}/Observation")) == 1
    (card,) = response.json["cards"]
    assert "data-incomplete" in card["extension"]["crs-assessment"]["flags"]


@pytest.mark.parametrize("patient_id", [".", ".."])
def test_item9_dot_patient_ids_are_refused_before_any_url_is_built(
    make_app: Callable[..., Flask], hostile: HostileFhirServer, patient_id: str
) -> None:
    body = fetching_body(hostile.base("healthy"), patient_id)
    body["prefetch"] = {}

    response, _ = call(make_app(), body)

    assert response.status_code == 400
    assert response.json["error"] == "bad_request"
    assert "context.patientId" in response.json["message"]
    assert hostile.record.requests == []


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    ends_at = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends_at:
            raise AssertionError("condition not met in time")
        time.sleep(DRIP_SECONDS / 2)
