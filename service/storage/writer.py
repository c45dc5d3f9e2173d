"""Audit rows, issued cards and call records, written off the response path.

A hook call queues its rows and answers; one daemon thread per process takes what has gathered (after a
short linger, so that a busy worker writes many calls at once) and writes it in one transaction, one
executemany INSERT per table: per call, that costs a fraction of a transaction of its own.

Bounded everywhere: the queue holds ``capacity`` records, and a record that finds it full is dropped,
counted (``crs_cds_records_dropped_total``) and logged (at most once per ``DROP_LOG_SECONDS``). A database
failure loses that batch, counted (``crs_cds_record_write_failures_total``) and logged without PHI; the
thread goes on with later batches. Dropped or lost audit rows also count in
``crs_cds_audit_write_failures_total``, the figure operators alert on.

Processes: the thread starts on the first record a process queues, so a worker forked from gunicorn's
preloaded master starts its own (a thread does not survive a fork); at a fork the child forgets the
parent's queue, which the parent writes. On a clean stop ``flush_all`` (gunicorn's worker exit hook, and
atexit) writes everything queued, within a deadline.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import DataError, IntegrityError

from service.storage.models import Base

log = logging.getLogger(__name__)
LINGER_SECONDS = 0.2  # records appear this long (plus the write) after their call; more gather per write
BATCH_RECORDS = 1000  # one transaction's share; a longer queue is written in several
IDLE_SECONDS = 10.0  # an idle thread ends (the next record starts another): nothing outlives its app for long
DROP_LOG_SECONDS = 10.0
SHUTDOWN_SECONDS = 5.0
DEFAULT_QUEUE = 10_000  # CRS_CDS_RECORD_QUEUE
AUDIT = "audit"
CALL_RECORD = "call_record"

TableRows = tuple[type[Base], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Record:
    """What one call leaves for one purpose (``kind``: the counters' label): rows, each for its table."""

    kind: str
    rows: tuple[TableRows, ...]


def write_rows(engine: Engine, rows: Iterable[TableRows]) -> None:
    """All rows in one transaction, one INSERT per table with the values as parameters (executemany)."""
    by_table: dict[type[Base], list[dict[str, Any]]] = {}
    for table, row in rows:
        by_table.setdefault(table, []).append(row)
    with engine.begin() as connection:
        for table, table_rows in by_table.items():
            connection.execute(insert(table), table_rows)


class RecordWriter:
    """A bounded queue of records and the thread that writes them; ``submit`` never waits for the database."""

    def __init__(self, engine: Engine, capacity: int, linger_seconds: float = LINGER_SECONDS) -> None:
        self.engine = engine
        self.capacity = capacity
        self.linger_seconds = linger_seconds
        self._reset()
        _WRITERS.add(self)

    def _reset(self) -> None:
        """Fresh state: at construction, and in a forked child (whose copies of the locks may be held)."""
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # the thread waits here for a first record
        self._written = threading.Condition(self._lock)  # flushes wait here for the thread's progress
        self._hurry = threading.Event()  # a flush or a full batch: write without lingering
        self._pending: deque[Record] = deque()
        self._queued = 0  # records accepted, ever (flush waits until _done reaches what it saw)
        self._done = 0  # records written or lost, ever
        self._thread: threading.Thread | None = None
        self._drops = _DropLog()

    def submit(self, record: Record) -> bool:
        """Queue a record (False: the queue was full, and the record dropped and counted)."""
        with self._lock:
            if len(self._pending) < self.capacity:
                self._pending.append(record)
                self._queued += 1
                if self._thread is None:
                    self._start()
                elif len(self._pending) >= BATCH_RECORDS:
                    self._hurry.set()
                self._idle.notify()
                return True
        self._dropped(record)
        return False

    def flush(self, timeout: float) -> bool:
        """Wait until every record queued before this call is written (or lost); False if ``timeout`` ran out."""
        with self._lock:
            target = self._queued
            if self._done >= target:
                return True
            self._hurry.set()
            return self._written.wait_for(lambda: self._done >= target, timeout)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="crs-cds-record-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._write(batch)
            except Exception:  # the writer outlives any one batch, whatever went wrong
                self._lost(batch, "unexpected error")
                log.exception("record writer: a batch failed")
            with self._lock:
                self._done += len(batch)
                self._written.notify_all()

    def _next_batch(self) -> list[Record] | None:
        """The records to write next, after the linger; None when idle long enough to end the thread."""
        with self._lock:
            if not self._idle.wait_for(lambda: self._pending, IDLE_SECONDS):
                self._thread = None  # under the lock: a record queued from now on starts a new thread
                return None
            backlog = len(self._pending) >= BATCH_RECORDS
        if not backlog:
            self._hurry.wait(self.linger_seconds)
        with self._lock:
            self._hurry.clear()  # under the lock: a flush that comes later sets it again, for the next batch
            count = min(len(self._pending), BATCH_RECORDS)
            return [self._pending.popleft() for _ in range(count)]

    def _write(self, batch: list[Record]) -> None:
        try:
            write_rows(self.engine, (row for record in batch for row in record.rows))
        except (IntegrityError, DataError) as error:  # one record the database refuses loses only itself
            if len(batch) == 1:
                self._lost(batch, type(error).__name__)
                return
            for record in batch:
                self._write([record])
        except Exception as error:  # a database down, locked or gone: counted, and on we go
            self._lost(batch, type(error).__name__)

    def _lost(self, batch: list[Record], reason: str) -> None:
        from service.observability import AUDIT_FAILURES, RECORD_WRITE_FAILURES  # see _dropped

        kinds = _count_kinds(batch)
        for kind, count in kinds.items():
            RECORD_WRITE_FAILURES.labels(kind).inc(count)
        AUDIT_FAILURES.inc(kinds.get(AUDIT, 0))
        described = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        log.error("records not written (%s): %s", described, reason)

    def _dropped(self, record: Record) -> None:
        # Imported on first use: the CLI imports storage before `serve` sets PROMETHEUS_MULTIPROC_DIR, and
        # prometheus_client reads that variable when it is first imported.
        from service.observability import AUDIT_FAILURES, RECORDS_DROPPED

        RECORDS_DROPPED.labels(record.kind).inc()
        if record.kind == AUDIT:
            AUDIT_FAILURES.inc()
        dropped = self._drops.note()
        if dropped:
            log.error("record queue full (%d records): %d records dropped", self.capacity, dropped)


class _DropLog:
    """Drops counted between log lines, so that a burst is one line every ``DROP_LOG_SECONDS``, not one a call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._logged_at = float("-inf")

    def note(self) -> int:
        """Count one drop; the number to log now (0: not yet)."""
        with self._lock:
            self._count += 1
            now = time.monotonic()
            if now - self._logged_at < DROP_LOG_SECONDS:
                return 0
            count, self._count, self._logged_at = self._count, 0, now
            return count


def _count_kinds(batch: list[Record]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for record in batch:
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    return kinds


_WRITERS: weakref.WeakSet[RecordWriter] = weakref.WeakSet()


def flush_all(timeout: float = SHUTDOWN_SECONDS) -> bool:
    """Write what every writer of this process has queued, all within ``timeout`` (False if it ran out)."""
    deadline = time.monotonic() + timeout
    return all([writer.flush(max(0.0, deadline - time.monotonic())) for writer in list(_WRITERS)])


def _forget_parent_queues() -> None:
    for writer in list(_WRITERS):
        writer._reset()


os.register_at_fork(after_in_child=_forget_parent_queues)
atexit.register(flush_all)
