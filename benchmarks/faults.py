"""Faults survived, measured on a served crs-cds (gunicorn, production defaults) against hostile neighbours.

    .venv/bin/python -m benchmarks.faults

Everything listens on 127.0.0.1 only. Figures (docs/security.md, "Faults survived"):

1. Worker memory (RSS, all gunicorn processes) before and at its peak during an endless FHIR body and a
   gzip bomb (512 MiB decompressed), with the default 64 MiB answer limit; and the time to the 412.
2. A healthy FHIR host's call: median and worst time over 20 s while six callers keep calling a host that
   drips its body (1 byte / 100 ms), as a ratio of the same call with no dripping host; how many requests
   reached the dripping host (after 5 timeouts in a row the circuit breaker answers for it).
3. A database locked by another writer: time to the 503 of a signed call and of /readyz.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.faults.conftest import fetching_body
from tests.faults.hostile import HostileFhirServer, gzip_bomb
from tests.integration.conftest import free_port, wait_until_up
from tests.jwt_support import EhrKeys, write_clients_file

PATIENT_VIEW = "/cds-services/crs-patient-view"


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    return total


def family(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


@contextmanager
def served(hosts: list[HostileFhirServer], folder: Path, keys: EhrKeys) -> Iterator[tuple[str, Any, int]]:
    bases = [host.base(name) for host in hosts for name in ("healthy", "drip", "endless", "bomb")]
    clients = write_clients_file(folder / "clients.toml", keys, bases)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CRS_CDS_CLIENTS": str(clients),
        "CRS_CDS_PUBLIC_BASE_URL": url,
        "CRS_CDS_DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    cli = str(Path(sys.executable).with_name("crs-cds"))
    command = [cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"{url}/healthz", process)
        time.sleep(1)  # every worker forked
        yield url, keys, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def post(url: str, keys: EhrKeys, body: dict[str, Any]) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {keys.sign(url + PATIENT_VIEW)}"}
    started = time.monotonic()
    response = requests.post(url + PATIENT_VIEW, json=body, headers=headers, timeout=30)
    return response.status_code, time.monotonic() - started


def peak_rss_during(action: Any, master: int) -> tuple[int, int, Any]:
    before, peak, done = rss_bytes(family(master)), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(family(master)))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = action()
    finally:
        done.set()
        watcher.join()
    return before, peak[0], result


def figure_1(url: str, keys: EhrKeys, hostile: HostileFhirServer, master: int) -> None:
    gzip_bomb()
    for behaviour in ("endless", "bomb"):
        before, peak, (status, seconds) = peak_rss_during(
            lambda b=behaviour: post(url, keys, fetching_body(hostile.base(b))), master
        )
        print(
            f"1. {behaviour}: HTTP {status} in {seconds:.2f} s; RSS of the service {before / 2**20:.0f} MiB before, "
            f"{peak / 2**20:.0f} MiB at the peak (+{(peak - before) / 2**20:.0f} MiB)"
        )


def figure_2(url: str, keys: EhrKeys, hostile: HostileFhirServer, healthy: HostileFhirServer) -> None:
    body = fetching_body(healthy.base("healthy"))
    quiet = [post(url, keys, body)[1] for _ in range(20)]
    stop, drip_answers = threading.Event(), []

    def keep_dripping() -> None:
        while not stop.is_set():
            drip_answers.append(post(url, keys, fetching_body(hostile.base("drip"))))

    callers = [threading.Thread(target=keep_dripping) for _ in range(6)]
    for caller in callers:
        caller.start()
    time.sleep(0.5)
    loaded, ends_at = [], time.monotonic() + 20  # long enough for the breaker to open (5 timeouts in a row)
    while time.monotonic() < ends_at:
        loaded.append(post(url, keys, body))
    stop.set()
    for caller in callers:
        caller.join()
    times = [seconds for _, seconds in loaded]
    print(
        f"2. healthy host while 6 callers hit a dripping host: median {statistics.median(times) * 1000:.0f} ms, "
        f"worst {max(times) * 1000:.0f} ms (quiet median {statistics.median(quiet) * 1000:.0f} ms; "
        f"ratio {statistics.median(times) / statistics.median(quiet):.1f}x); statuses {sorted({s for s, _ in loaded})}; "
        f"{len(drip_answers)} dripping calls answered {sorted({s for s, _ in drip_answers})}, "
        f"slowest {max(s for _, s in drip_answers):.2f} s; "
        f"{len(hostile.record.paths('/drip'))} requests reached the dripping host"
    )


def figure_3(url: str, keys: EhrKeys, database: Path) -> None:
    locker = sqlite3.connect(database, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        status, seconds = post(url, keys, fetching_body("http://127.0.0.1:9/unused"))
        started = time.monotonic()
        ready = requests.get(url + "/readyz", timeout=30).status_code
        ready_seconds = time.monotonic() - started
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    print(f"3. database locked: signed call HTTP {status} in {seconds:.2f} s; /readyz {ready} in {ready_seconds:.2f} s")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="crs-cds-faults-"))
    hostile, healthy = HostileFhirServer(), HostileFhirServer()
    try:
        with served([hostile, healthy], folder, EhrKeys.generate()) as (url, keys, master):
            figure_1(url, keys, hostile, master)
            figure_2(url, keys, hostile, healthy)
            figure_3(url, keys, folder / "db.sqlite3")
    finally:
        hostile.close()
        healthy.close()


if __name__ == "__main__":
    main()
