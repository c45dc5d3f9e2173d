"""Alembic environment: the connection comes from service.storage.db.migrate (or -x url=... on the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from service.storage.models import Base

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    if connection is not None:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(str(url))
    with engine.connect() as new_connection:
        context.configure(connection=new_connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
