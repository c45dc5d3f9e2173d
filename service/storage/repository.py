"""Writes and reads of the audit, issued cards and feedback tables."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.storage.models import AuditRecord, Base, Feedback, IssuedCard, JwtReplay
from service.storage.writer import AUDIT, DEFAULT_QUEUE, Record, RecordWriter, write_rows


class StorageUnverified(SQLAlchemyError):
    """A write was committed but a read-back cannot see it (for callers, the same as a failed write)."""


@dataclass(frozen=True)
class HookCall:
    """What one hook call produced, for the audit."""

    created_at: datetime
    hook_instance: str
    service_id: str
    patient_ref: str
    grade: int | None
    managed_grade: int | None
    rules: list[str]
    policy_version: str
    fetched_keys: list[str]
    fetch_ms: float
    total_ms: float


@dataclass(frozen=True)
class CardRecord:
    card_uuid: str
    kind: str
    indicator: str
    rules: list[str]
    suggestion_uuids: list[str]


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer = RecordWriter(engine, DEFAULT_QUEUE)  # the Runtime sets CRS_CDS_RECORD_QUEUE

    def record_hook_call(self, call: HookCall, cards: list[CardRecord]) -> None:
        """One audit row and one row per card, in one transaction, now (calls queue ``audit_record`` instead)."""
        write_rows(self.engine, audit_record(call, cards).rows)

    def record_feedback(self, rows: list[dict[str, Any]]) -> int:
        """Insert feedback rows, ignoring ones already stored (same dedupe key). Returns how many were new.

        After the commit every row is read back on a fresh checkout: "stored" is said only of rows a reader
        can see (a deleted SQLite file, for one, takes commits that nobody will ever read). StorageUnverified
        otherwise, so the EHR retries.
        """
        if not rows:
            return 0
        with self.engine.begin() as connection:
            inserted = _count_inserted(
                connection, _insert_ignoring_duplicates(connection.dialect.name, Feedback, rows, "dedupe_key")
            )
        keys = [row["dedupe_key"] for row in rows]
        with self.engine.connect() as connection:
            found = connection.execute(select(Feedback.dedupe_key).where(Feedback.dedupe_key.in_(keys))).all()
        if len(found) != len(set(keys)):
            raise StorageUnverified("feedback rows committed but not readable")
        return inserted

    def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Record a JWT's (issuer, jti); False if any worker recorded it before (a replay).

        The primary key makes the check and the insert one atomic step across processes. Expired entries
        are removed as new ones arrive, so the table holds only tokens still within their lifetime.
        """
        token_key = hashlib.sha256(f"{issuer}\x1f{jti}".encode()).hexdigest()
        row = {"token_key": token_key, "expires_at": expires_at}
        expired_before = datetime.now(UTC) - timedelta(minutes=10)
        with self.engine.begin() as connection:
            connection.execute(delete(JwtReplay).where(JwtReplay.expires_at < expired_before))
            result = connection.execute(
                _insert_ignoring_duplicates(self.engine.dialect.name, JwtReplay, [row], "token_key")
            )
        return bool(result.rowcount)

    def feedback_count(self) -> int:
        with Session(self.engine) as session:
            return len(session.scalars(select(Feedback.id)).all())

    def audit_rows(self) -> list[AuditRecord]:
        with Session(self.engine) as session:
            return list(session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all())

    def report(self) -> list[ReportRow]:
        """Cards issued, accepted and overridden per card kind and per rule."""
        with Session(self.engine) as session:
            cards = session.execute(select(IssuedCard.card_uuid, IssuedCard.kind, IssuedCard.rules)).all()
            outcomes = session.execute(select(Feedback.card_uuid, Feedback.outcome)).all()
        by_card: dict[str, set[str]] = defaultdict(set)
        for card_uuid, outcome in outcomes:
            by_card[card_uuid].add(outcome)
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for card_uuid, kind, rules in cards:
            for group in [(kind, "(all rules)"), *((kind, rule) for rule in rules)]:
                counts[group][0] += 1
                counts[group][1] += "accepted" in by_card[card_uuid]
                counts[group][2] += "overridden" in by_card[card_uuid]
        return [ReportRow(kind, rule, *values) for (kind, rule), values in sorted(counts.items())]


def audit_record(call: HookCall, cards: list[CardRecord]) -> Record:
    """The audit row of a call and a row per card it issued (architecture.md "Data flow" step 5)."""
    audit_row = {
        **call.__dict__,
        "card_uuids": [card.card_uuid for card in cards],
        "suggestion_uuids": [uuid for card in cards for uuid in card.suggestion_uuids],
    }
    card_rows = [
        {
            "card_uuid": card.card_uuid,
            "created_at": call.created_at,
            "hook_instance": call.hook_instance,
            "service_id": call.service_id,
            "kind": card.kind,
            "indicator": card.indicator,
            "rules": card.rules,
            "suggestion_uuids": card.suggestion_uuids,
        }
        for card in cards
    ]
    return Record(AUDIT, ((AuditRecord, audit_row), *((IssuedCard, row) for row in card_rows)))


@dataclass(frozen=True)
class ReportRow:
    kind: str
    rule: str
    issued: int
    accepted: int
    overridden: int

    def rate(self, count: int) -> str:
        return f"{100 * count / self.issued:.1f} %" if self.issued else "-"


def _insert_ignoring_duplicates(dialect: str, table: type[Base], rows: list[dict[str, Any]], unique: str) -> Any:
    """INSERT that skips rows whose unique key exists: atomic across processes, so nothing is stored twice."""
    if dialect == "sqlite":
        return sqlite.insert(table).values(rows).on_conflict_do_nothing(index_elements=[unique])
    if dialect == "postgresql":
        key = getattr(table, unique)
        return postgresql.insert(table).values(rows).on_conflict_do_nothing(index_elements=[unique]).returning(key)
    return insert(table).values(rows)


def _count_inserted(connection: Connection, statement: Any) -> int:
    """Rows an INSERT ... ON CONFLICT DO NOTHING stored.

    PostgreSQL (psycopg) reports no row count for it, so the inserted keys come back with RETURNING;
    SQLite reports the count, and pysqlite cannot commit with a RETURNING cursor still open.
    """
    result = connection.execute(statement)
    return len(result.fetchall()) if connection.dialect.name == "postgresql" else int(result.rowcount)
