"""Per-call records (table ``call_record``): written once per hook call, read by the reports, purged by age."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from service.storage.models import AuditRecord, CallRecord, Feedback, IssuedCard
from service.storage.writer import CALL_RECORD, Record, write_rows

IN_CHUNK = 500  # bound on the uuids of one IN (...) list: SQLite and PostgreSQL both cap bound parameters
PURGED = ((CallRecord, CallRecord.requested_at), (AuditRecord, AuditRecord.created_at))
PURGED_CARDS = ((IssuedCard, IssuedCard.created_at), (Feedback, Feedback.received_at))


class CallRecords:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, row: dict[str, Any]) -> None:
        """Write one record now (hook calls queue ``call_record(row)`` for the writer instead)."""
        write_rows(self.engine, call_record(row).rows)

    def between(self, start: datetime, end: datetime) -> list[CallRecord]:
        """Calls with start <= requested_at < end, oldest first."""
        query = select(CallRecord).where(CallRecord.requested_at >= start, CallRecord.requested_at < end)
        with Session(self.engine) as session:
            return list(session.scalars(query.order_by(CallRecord.requested_at, CallRecord.id)).all())

    def feedback_for(self, card_uuids: Sequence[str]) -> list[Feedback]:
        """Feedback on these cards, whenever it arrived."""
        found: list[Feedback] = []
        with Session(self.engine) as session:
            for chunk in _chunks(sorted(set(card_uuids))):
                found.extend(session.scalars(select(Feedback).where(Feedback.card_uuid.in_(chunk))).all())
        return found

    def purge(self, before: datetime) -> dict[str, int]:
        """Delete every record older than ``before``; rows removed per table (one transaction)."""
        removed: dict[str, int] = {}
        with self.engine.begin() as connection:
            for table, column in (*PURGED, *PURGED_CARDS):
                result = connection.execute(delete(table).where(column < before))
                removed[str(table.__tablename__)] = int(result.rowcount)
        return removed

    def count_before(self, before: datetime) -> dict[str, int]:
        """What ``purge`` would remove (for --dry-run)."""
        with Session(self.engine) as session:
            return {
                str(table.__tablename__): int(session.scalar(select(func.count()).where(column < before)) or 0)
                for table, column in (*PURGED, *PURGED_CARDS)
            }


def call_record(row: dict[str, Any]) -> Record:
    return Record(CALL_RECORD, ((CallRecord, row),))


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for index in range(0, len(items), IN_CHUNK):
        yield items[index : index + IN_CHUNK]
