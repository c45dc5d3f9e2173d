"""The record writer (service/storage/writer.py): batches, a bounded queue, database faults, stop and fork."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event, text

from service.app import create_app
from service.hooks.calls import _failure_fields
from service.server import gunicorn_options
from service.settings import Settings
from service.storage import writer
from service.storage.call_records import call_record
from service.storage.db import create_database_engine
from service.storage.repository import CardRecord, HookCall, audit_record
from service.storage.writer import AUDIT, CALL_RECORD, Record, RecordWriter, flush_all

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
LONG = 30.0  # a linger no test waits out: only a flush (or a full batch) makes the thread write


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url, timeout_seconds=0.2)
    yield engine
    engine.dispose()


def audit(instance: str) -> Record:
    call = HookCall(NOW, instance, "crs-patient-view", "Patient/p", 3, 3, ["M-G3"], "2026.1", [], 1.0, 2.0)
    return audit_record(call, [CardRecord(f"card-{instance}", "crs-assessment", "critical", ["M-G3"], ["s"])])


def call(instance: str) -> Record:
    """The record of a failed call (the smallest there is), as the web layer writes it."""
    times = {"requested_at": NOW, "responded_at": NOW, "total_ms": 2.0, "http_status": 400}
    return call_record({**_failure_fields("crs-patient-view", None), **times, "hook_instance": instance})


def instances(engine: Engine, table: str = "audit") -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT hook_instance FROM {table} ORDER BY id")).all()  # noqa: S608
    return [row[0] for row in rows]


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_what_gathered_is_written_in_one_transaction_with_one_insert_per_table(engine: Engine) -> None:
    records = RecordWriter(engine, capacity=100, linger_seconds=LONG)
    commits: list[object] = []
    statements: list[str] = []
    event.listen(engine, "commit", commits.append)
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    for n in range(20):
        assert records.submit(audit(f"a{n}"))
        assert records.submit(call(f"a{n}"))
    assert records.flush(5)

    assert instances(engine) == [f"a{n}" for n in range(20)]
    assert instances(engine, "call_record") == [f"a{n}" for n in range(20)]
    inserts = sorted(statement.split()[2] for statement in statements if statement.startswith("INSERT"))
    assert len(commits) == 1
    assert inserts == ["audit", "call_record", "issued_card"]


def test_a_full_queue_drops_counts_and_logs_once_per_burst(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    records = RecordWriter(engine, capacity=3, linger_seconds=LONG)
    dropped_before = counter("crs_cds_records_dropped_total", kind=AUDIT)
    audit_failures_before = counter("crs_cds_audit_write_failures_total")

    with caplog.at_level(logging.ERROR, logger=writer.__name__):
        accepted = [records.submit(audit(f"q{n}")) for n in range(6)]

    assert accepted == [True, True, True, False, False, False]
    assert counter("crs_cds_records_dropped_total", kind=AUDIT) == dropped_before + 3
    assert counter("crs_cds_audit_write_failures_total") == audit_failures_before + 3
    assert [r.getMessage() for r in caplog.records] == ["record queue full (3 records): 1 records dropped"]
    assert records.flush(5)
    assert instances(engine) == ["q0", "q1", "q2"]


@pytest.fixture
def lock(database_url: str) -> Iterator[sqlite3.Connection]:
    """Another process could hold the database: this connection takes its write lock on ``BEGIN EXCLUSIVE``."""
    connection = sqlite3.connect(Path(database_url.removeprefix("sqlite:///")), isolation_level=None)
    yield connection
    connection.close()


def test_a_database_failure_loses_the_batch_counted_and_the_thread_writes_later_ones(
    engine: Engine, lock: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    records = RecordWriter(engine, capacity=100, linger_seconds=0.01)
    lost_before = counter("crs_cds_record_write_failures_total", kind=CALL_RECORD)
    audit_failures_before = counter("crs_cds_audit_write_failures_total")

    lock.execute("BEGIN EXCLUSIVE")
    records.submit(audit("while-locked"))
    records.submit(call("while-locked"))
    assert records.flush(5)
    lock.execute("ROLLBACK")
    records.submit(audit("after"))
    assert records.flush(5)

    assert instances(engine) == ["after"]
    assert counter("crs_cds_record_write_failures_total", kind=CALL_RECORD) == lost_before + 1
    assert counter("crs_cds_audit_write_failures_total") == audit_failures_before + 1
    assert "records not written (1 audit, 1 call_record): OperationalError" in caplog.text
    assert "while-locked" not in caplog.text  # nothing of the call in the log: no PHI
    assert "Patient/p" not in caplog.text


def test_an_unexpected_error_is_counted_and_the_thread_goes_on(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    records = RecordWriter(engine, capacity=100, linger_seconds=0.01)
    lost_before = counter("crs_cds_record_write_failures_total", kind=AUDIT)

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patched:
        patched.setattr(writer, "write_rows", broken)
        records.submit(audit("lost"))
        assert records.flush(5)
    records.submit(audit("written"))
    assert records.flush(5)

    assert instances(engine) == ["written"]
    assert counter("crs_cds_record_write_failures_total", kind=AUDIT) == lost_before + 1


def test_a_row_the_database_refuses_loses_only_its_own_record(engine: Engine) -> None:
    records = RecordWriter(engine, capacity=100, linger_seconds=LONG)
    records.submit(audit("first"))
    records.submit(audit("first"))  # the same card uuid again: the primary key refuses it
    records.submit(audit("third"))

    assert records.flush(5)

    assert instances(engine) == ["first", "third"]


def test_a_stopping_worker_writes_everything_still_queued(engine: Engine) -> None:
    records = RecordWriter(engine, capacity=100, linger_seconds=LONG)
    for n in range(50):
        records.submit(audit(f"s{n}"))
    worker_exit = gunicorn_options(Settings(), "127.0.0.1", 8080)["worker_exit"]

    worker_exit(None, None)

    assert records.pending() == 0
    assert len(instances(engine)) == 50
    assert flush_all(1)


def test_a_forked_process_writes_its_own_records_and_never_its_parents(engine: Engine) -> None:
    records = RecordWriter(engine, capacity=100, linger_seconds=LONG)
    records.submit(audit("parent"))  # queued, and the parent's thread lingers: not written before the fork

    child = os.fork()
    if child == 0:  # pragma: no cover - the child process; its exit status is the test's evidence
        try:
            engine.dispose(close=False)  # the parent's pooled connections are not the child's to use
            written = records.pending() == 0 and records.submit(audit("child")) and records.flush(5)
        finally:
            os._exit(0 if written else 1)
    _, status = os.waitpid(child, 0)
    assert records.flush(5)

    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(instances(engine)) == ["child", "parent"]


def test_the_queue_is_the_setting_and_a_copy_of_the_runtime_shares_the_writer(settings: Settings) -> None:
    state = create_app(settings.model_copy(update={"record_queue": 25})).extensions["crs_cds"]

    copy = dataclasses.replace(state, clock=lambda: NOW)

    assert state.writer.capacity == 25
    assert copy.writer is state.writer  # one queue and one thread, however often a test or bench swaps the clock


def test_the_cli_loads_no_metrics_library_before_serve_prepares_the_shared_metrics_folder() -> None:
    """prometheus_client reads PROMETHEUS_MULTIPROC_DIR once, when first imported: the writer must not import it."""
    probe = "import sys, service.cli, service.server; print('prometheus_client' in sys.modules)"

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)

    assert result.stdout.strip() == "False"


def test_a_backlog_is_written_batch_after_batch_without_lingering(engine: Engine) -> None:
    records = RecordWriter(engine, capacity=5000, linger_seconds=LONG)
    total = 2 * writer.BATCH_RECORDS + 500
    for n in range(total):
        records.submit(call(f"b{n}"))

    ends_at = time.monotonic() + 10
    while len(instances(engine, "call_record")) + records.pending() < total and time.monotonic() < ends_at:
        time.sleep(0.01)  # until nothing is in flight

    assert 0 < records.pending() < writer.BATCH_RECORDS  # only what is left of a batch waits for the linger
    assert len(instances(engine, "call_record")) == total - records.pending()
    assert records.flush(5)
