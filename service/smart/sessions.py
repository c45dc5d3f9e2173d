"""Server-side SMART sessions in the service's database, shared by every worker.

The browser holds only a random session id in an HttpOnly cookie; the table keys rows by its SHA-256,
so the table alone cannot be replayed as a cookie. A pending row holds the launch's state and PKCE
verifier (used once, then cleared); an active row holds the access token until it expires. Expired rows
are purged whenever a session starts. Tokens never reach the browser, a URL or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Engine, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from service.smart.errors import NotAuthorised
from service.storage.models import Base


class SmartSession(Base):
    """One browser's launch. Created by migration 0014."""

    __tablename__ = "smart_session"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    iss: Mapped[str] = mapped_column(String(1000))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str | None] = mapped_column(String(100), nullable=True)
    code_verifier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    token_endpoint: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    patient: Mapped[str | None] = mapped_column(String(64), nullable=True)


@dataclass(frozen=True)
class Pending:
    iss: str
    token_endpoint: str
    code_verifier: str


@dataclass(frozen=True)
class Active:
    iss: str
    access_token: str
    patient: str


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, pending: Pending, state: str, expires_at: datetime, now: datetime) -> str:
        """A new pending session; returns the cookie value."""
        cookie = secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(SmartSession).where(SmartSession.expires_at < now))
            session.add(
                SmartSession(
                    key=_key(cookie),
                    iss=pending.iss,
                    expires_at=expires_at,
                    state=state,
                    code_verifier=pending.code_verifier,
                    token_endpoint=pending.token_endpoint,
                )
            )
        return cookie

    def complete(self, cookie: str, state: str, now: datetime) -> Pending:
        """The pending launch whose state this is; single use: the state and verifier are cleared."""
        pending: Pending | None = None
        with Session(self.engine) as session, session.begin():  # raising inside would roll the change back
            row = session.get(SmartSession, _key(cookie), with_for_update=True)
            if row is None or row.state is None or _expired(row, now):
                raise NotAuthorised("no pending launch in this browser (expired or already used): launch again")
            if hmac.compare_digest(row.state.encode(), state.encode()):
                pending = Pending(row.iss, row.token_endpoint or "", row.code_verifier or "")
                row.state = row.code_verifier = None
            else:
                session.delete(row)  # a wrong state ends the launch: no second guess
        if pending is None:
            raise NotAuthorised("the state does not match this browser's launch: launch again")
        return pending

    def activate(self, cookie: str, access_token: str, patient: str, expires_at: datetime) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(SmartSession, _key(cookie), with_for_update=True)
            if row is None:
                raise NotAuthorised("the launch ended before the token arrived: launch again")
            row.access_token, row.patient, row.expires_at, row.token_endpoint = access_token, patient, expires_at, None

    def active(self, cookie: str, now: datetime) -> Active | None:
        with Session(self.engine) as session:
            row = session.scalar(select(SmartSession).where(SmartSession.key == _key(cookie)))
        if row is None or row.access_token is None or row.patient is None or _expired(row, now):
            return None
        return Active(row.iss, row.access_token, row.patient)

    def end(self, cookie: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(SmartSession).where(SmartSession.key == _key(cookie)))


def _expired(row: SmartSession, now: datetime) -> bool:
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now.tzinfo)
    return expires_at <= now  # SQLite returns naive datetimes
