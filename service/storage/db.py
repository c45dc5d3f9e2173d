"""Database engine and migrations. SQLite by default (a file), PostgreSQL by URL.

Every wait is short (``timeout_seconds``, default 1 s): a locked or stalled database must fail a call fast
(503) rather than hold a request thread, since the database sits on the authentication path (replay guard).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from service import json_text

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_database_engine(url: str, timeout_seconds: float = 1.0) -> Engine:
    """An engine tuned for several gunicorn workers writing at once, that never waits long.

    SQLite: WAL journal so readers never block the writer, and a short busy timeout so concurrent writers
    wait briefly instead of failing at once. A pooled connection to a file that was deleted or replaced is
    discarded at checkout (it would write to an unlinked inode that nobody reads). The folder of a SQLite
    file is created if missing. PostgreSQL: connect, lock and statement timeouts; a short pool wait.

    JSON columns are written by ``json_text.dumps`` (orjson, same values): the writer thread serialises about
    a dozen per hook call, where stdlib ``json.dumps`` was a third of its CPU.
    """
    parsed = make_url(url)
    millis = max(1, int(timeout_seconds * 1000))
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=timeout_seconds,
            json_serializer=json_text.dumps,
            connect_args=_postgresql_args(parsed.get_driver_name(), timeout_seconds),
        )
    engine = create_engine(
        url,
        json_serializer=json_text.dumps,
        connect_args={"timeout": timeout_seconds, "check_same_thread": False},
    )
    event.listen(engine, "connect", partial(_sqlite_pragmas, millis))
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        path = Path(parsed.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", partial(_remember_file, path))
        event.listen(engine, "checkout", partial(_still_the_same_file, path))
    return engine


def _postgresql_args(driver: str, timeout_seconds: float) -> dict[str, Any]:
    if not driver.startswith("psycopg"):
        return {}
    millis = max(1, int(timeout_seconds * 1000))
    return {
        "connect_timeout": max(1, round(timeout_seconds)),
        "options": f"-c lock_timeout={millis} -c statement_timeout={max(millis, 5000)}",
    }


def _sqlite_pragmas(busy_millis: int, connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_millis)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _remember_file(path: Path, _connection: Any, record: Any) -> None:
    record.info["sqlite_file"] = _file_identity(path)


def _still_the_same_file(path: Path, _connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection whose file is gone (or replaced) is dropped; the pool then opens a fresh one."""
    if record.info.get("sqlite_file") != _file_identity(path):
        raise DisconnectionError("the SQLite file was deleted or replaced")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; safe to run at every start)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def head_revision() -> str | None:
    """The newest revision of the migration scripts (one head: parallel branches are chained at merge)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        try:
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        except SQLAlchemyError:  # no table yet means no revision
            return None
    return str(row[0]) if row else None


def is_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:  # readiness reports, never raises
        return False
    return True


def can_write(engine: Engine) -> bool:
    """True if the database takes a write now (not locked, not read-only, the file not deleted).

    A row is written to the replay table and rolled back: the same write the authentication path needs.
    """
    probe = text("INSERT INTO jwt_replay (token_key, expires_at) VALUES ('readiness-probe', :expires_at)")
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            connection.execute(probe, {"expires_at": datetime(2000, 1, 1, tzinfo=UTC)})
            transaction.rollback()
    except SQLAlchemyError:  # readiness reports, never raises
        return False
    return True
