"""Alembic environment: gxpml runs migrations on a connection it passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from gxpml.store.tables import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic` command line during development
    with create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://").connect() as conn:
        _run(conn)
