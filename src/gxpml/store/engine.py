"""Engines for the two metadata backends, configured so that they behave alike.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue for the lock instead of failing with
"database is locked" half-way through. PostgreSQL writers queue on the chain head row
(``SELECT ... FOR UPDATE``), see :mod:`gxpml.store.uow`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from gxpml.errors import ConfigError

__all__ = ["WRITE", "make_engine", "redact_url"]

#: Execution option that marks a connection's transaction as a write (``BEGIN IMMEDIATE``).
WRITE = "gxpml_write"

SQLITE_BUSY_TIMEOUT_S = 60.0


def redact_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"Database URL {url!r} is not valid. Use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DATABASE."
        ) from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["poolclass"] = NullPool if parsed.query.get("gxpml_nullpool") else None
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
    else:
        raise ConfigError(
            f"Database backend {backend!r} is not supported. Use SQLite (sqlite:///PATH) or "
            "PostgreSQL (postgresql+psycopg://...)."
        )
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"The driver for {redact_url(url)} is not installed. Install gxpml[postgres]."
        ) from exc
    if backend == "sqlite":
        _configure_sqlite(engine, sqlite_synchronous)
    return engine


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN IMMEDIATE can be issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")
