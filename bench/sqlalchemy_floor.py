"""What one gxpml-shaped write transaction costs on this machine without gxpml.

A reference for the audited-writes benchmark, not part of ``make bench``. The same SQLite file
settings as gxpml (WAL, synchronous=NORMAL, BEGIN IMMEDIATE), and the same statements as one
audited write: read the chain head, insert two rows (a record and its event), update the head,
commit. Done three ways: the SQLAlchemy ORM (as gxpml's unit of work does), SQLAlchemy Core,
and the sqlite3 driver. No hashing, no JSON, no audit: the floor under each approach.

    .venv/bin/python bench/sqlalchemy_floor.py [-n 3000]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, create_engine, event, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String)


class Head(Base):
    __tablename__ = "head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)


def rate(n: int, op: Any) -> float:
    start = time.perf_counter()
    for i in range(n):
        op(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3000)
    n = parser.parse_args().n
    folder = Path(tempfile.mkdtemp(prefix="gxpml-floor-"))
    engine = create_engine(f"sqlite:///{folder / 'sa.db'}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add(Head(id=1, seq=0))

    def orm(i: int) -> None:
        with Session(engine, autoflush=False, expire_on_commit=False) as session, session.begin():
            head = session.execute(select(Head).where(Head.id == 1)).scalar_one()
            session.add(Row(value=f"record {i}"))
            session.add(Row(value=f"event {i}"))
            session.flush()
            session.execute(update(Head).where(Head.id == 1).values(seq=head.seq + 1))

    rows, heads = Row.__table__, Head.__table__

    def core(i: int) -> None:
        with engine.begin() as conn:
            seq = conn.execute(select(heads.c.seq).where(heads.c.id == 1)).scalar_one()
            conn.execute(rows.insert(), [{"value": f"record {i}"}, {"value": f"event {i}"}])
            conn.execute(heads.update().where(heads.c.id == 1).values(seq=seq + 1))

    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT)")
    raw.execute("CREATE TABLE head (id INTEGER PRIMARY KEY, seq INTEGER)")
    raw.execute("INSERT INTO head VALUES (1, 0)")

    def driver(i: int) -> None:
        raw.execute("BEGIN IMMEDIATE")
        seq = raw.execute("SELECT seq FROM head WHERE id = 1").fetchone()[0]
        raw.executemany("INSERT INTO rows (value) VALUES (?)", [(f"record {i}",), (f"event {i}",)])
        raw.execute("UPDATE head SET seq = ? WHERE id = 1", (seq + 1,))
        raw.execute("COMMIT")

    try:
        for name, op in (("SQLAlchemy ORM session", orm), ("SQLAlchemy Core", core), ("sqlite3 driver", driver)):
            op(-1)  # warm the statement caches
            print(f"{name:<24}{rate(n, op):>10,.0f} transactions/s")
    finally:
        raw.close()
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
