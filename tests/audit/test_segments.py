"""Segments: a batch of high-volume rows sealed by digest into one audit event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, text

from gxpml.audit.verify import SEGMENT_SOURCES, register_segment_source
from gxpml.store.uow import segment_digest
from gxpml.workspace import Workspace


def _points(conn: Connection, segment_id: str) -> Iterator[dict[str, Any]]:
    rows = conn.execute(text("SELECT step, value FROM test_points WHERE segment_id = :s ORDER BY step"), {"s": segment_id})
    for step, value in rows:
        yield {"step": step, "value": value}


def _seal(ws: Workspace, n: int) -> str:
    with ws._db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS test_points (segment_id VARCHAR(32), step INTEGER, value VARCHAR(32))"))
    rows = [{"step": i, "value": f"{i * 0.5:.3f}"} for i in range(n)]
    with ws._db.write(ws.actor, "metrics.log") as uow:
        segment = uow.seal_segment("test-points", rows, owner_id="run_1")
        uow.session.flush()
        uow.session.execute(text("INSERT INTO test_points VALUES (:s, :step, :value)"),
                            [{"s": segment.id, **r} for r in rows])
        return segment.id


def test_a_sealed_batch_is_one_event_holding_its_digest(local: Workspace) -> None:
    before = local.audit.verify().head_seq
    segment_id = _seal(local, 1000)
    [event] = local.audit.log(entity=f"segment:{segment_id}")
    assert local.audit.verify().head_seq == before + 1
    assert event.new is not None and event.new["count"] == 1000
    expected, _ = segment_digest({"step": i, "value": f"{i * 0.5:.3f}"} for i in range(1000))
    assert event.new["digest"] == expected


def test_changing_one_sealed_row_breaks_verification(local: Workspace, tamper: Callable[..., None]) -> None:
    register_segment_source("test-points", _points)
    try:
        segment_id = _seal(local, 100)
        assert local.audit.verify().ok
        tamper(f"UPDATE test_points SET value = '9.999' WHERE segment_id = '{segment_id}' AND step = 42")
        report = local.audit.verify()
        assert [p.check for p in report.problems] == ["segment"]
        assert segment_id in report.problems[0].message
        tamper(f"DELETE FROM test_points WHERE segment_id = '{segment_id}' AND step = 42")
        assert "99 rows now, 100 sealed" in local.audit.verify().problems[0].message
    finally:
        SEGMENT_SOURCES.pop("test-points", None)
