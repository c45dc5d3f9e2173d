"""Tables. Changes go through an Alembic migration in service/migrations/versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditRecord(Base):
    """One row per hook call (architecture.md "Data flow" step 5). No tokens; the patient reference only."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hook_instance: Mapped[str] = mapped_column(String(200), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    patient_ref: Mapped[str] = mapped_column(String(100))
    grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    managed_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rules: Mapped[list[str]] = mapped_column(JSON)
    card_uuids: Mapped[list[str]] = mapped_column(JSON)
    suggestion_uuids: Mapped[list[str]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(40))
    fetched_keys: Mapped[list[str]] = mapped_column(JSON)
    fetch_ms: Mapped[float] = mapped_column(Float)
    total_ms: Mapped[float] = mapped_column(Float)


class IssuedCard(Base):
    """Each card sent, so that feedback can be reported per card kind and rule."""

    __tablename__ = "issued_card"

    card_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hook_instance: Mapped[str] = mapped_column(String(200))
    service_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    indicator: Mapped[str] = mapped_column(String(10))
    rules: Mapped[list[str]] = mapped_column(JSON)
    suggestion_uuids: Mapped[list[str]] = mapped_column(JSON)


class Feedback(Base):
    """One feedback item; ``dedupe_key`` makes a repeated post of the same item a no-op."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    service_id: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(200), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_timestamp: Mapped[str | None] = mapped_column(String(64), nullable=True)
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON)
    override_system: Mapped[str | None] = mapped_column(String(300), nullable=True)
    override_code: Mapped[str | None] = mapped_column(String(200), nullable=True)
    override_display: Mapped[str | None] = mapped_column(String(300), nullable=True)
    user_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)


class JwtReplay(Base):
    """A JWT already used: sha256 of issuer and jti; kept until the token expires."""

    __tablename__ = "jwt_replay"

    token_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CallRecord(Base):
    """One row per hook call, whatever its outcome, modelled on the Da Vinci CRD metric data (docs/go-live.md).

    No patient reference and no token: ``hook_instance`` joins it to the audit row, card uuids to feedback.
    ``withheld_cards`` holds the full cards a silent service computed and did not return.
    """

    __tablename__ = "call_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hook_instance: Mapped[str] = mapped_column(String(200), index=True)
    hook: Mapped[str] = mapped_column(String(40))
    service_id: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    responded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total_ms: Mapped[float] = mapped_column(Float)
    fetch_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    http_status: Mapped[int] = mapped_column(Integer)
    token_used: Mapped[bool] = mapped_column(Boolean)
    fetched_keys: Mapped[list[str]] = mapped_column(JSON)
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    silent: Mapped[bool] = mapped_column(Boolean)
    grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    managed_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cards: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    withheld_cards: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    unrecognised_codes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
