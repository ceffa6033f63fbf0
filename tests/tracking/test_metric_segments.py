"""Metric points are high-volume: buffered in the run, written in batches, and each batch is
sealed into the audit trail as one segment, so tampering with any point breaks verify."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gxpml.store.uow import segment_digest


def _segments(workspace: Any, run_id: str) -> list[Any]:
    return [e for e in workspace.audit.log(entity="segment", limit=None) if e.new and e.new["owner_id"] == run_id]


def test_points_are_written_in_sealed_batches_not_one_event_each(workspace: Any) -> None:
    with workspace.start_run(experiment="segments") as run:
        run.flush_every = 1000
        before = workspace.audit.verify().head_seq
        for step in range(2500):
            run.log_metric("loss", 1 / (step + 1))
        assert len(workspace.runs.metrics(run.id, "loss")) == 2000  # two full batches written, 500 buffered
        # two segments: one event each, never one per point
        assert workspace.audit.verify().head_seq - before == 2
    assert len(workspace.runs.metrics(run.id, "loss")) == 2500  # the rest at the end of the run
    assert [s.new["count"] for s in _segments(workspace, run.id)] == [1000, 1000, 500]
    assert workspace.audit.verify().ok


def test_log_metrics_and_flush_write_at_once(workspace: Any) -> None:
    with workspace.start_run(experiment="segments") as run:
        run.log_metric("loss", 0.5)
        assert workspace.runs.get(run.id).metrics == {}  # buffered
        run.log_metrics({"auc": 0.9, "accuracy": 0.8}, step=1)
        assert workspace.runs.get(run.id).metrics == {"accuracy": 0.8, "auc": 0.9, "loss": 0.5}
        run.log_metric("loss", 0.4)
        run.flush()
        assert workspace.runs.get(run.id).metrics["loss"] == 0.4
    [first, second] = _segments(workspace, run.id)
    assert (first.new["count"], second.new["count"]) == (3, 1)


def test_a_segment_digest_covers_each_point_in_order(workspace: Any) -> None:
    with workspace.start_run(experiment="segments") as run:
        run.log_metrics({"loss": 0.25}, step=3)
    [point] = workspace.runs.metrics(run.id, "loss")
    [segment] = _segments(workspace, run.id)
    from gxpml.canonical import format_ts

    expected, _ = segment_digest([{"key": "loss", "run_id": run.id, "seq": 1, "step": 3, "ts": format_ts(point.ts), "value": 0.25}])
    assert segment.new["digest"] == expected


@pytest.mark.parametrize("change", [
    "UPDATE metric_points SET value = 0.01 WHERE run_id = '{run}' AND seq = 3",
    "UPDATE metric_points SET step = 99 WHERE run_id = '{run}' AND seq = 3",
    "DELETE FROM metric_points WHERE run_id = '{run}' AND seq = 3",
    "INSERT INTO metric_points (run_id, seq, segment_id, key, step, value, ts) SELECT run_id, 99, segment_id, key, 99, 0.0, ts FROM metric_points WHERE run_id = '{run}' AND seq = 3",
], ids=["value", "step", "deleted", "added"])
def test_a_tampered_metric_point_is_caught_by_audit_verify(
    workspace: Any, tamper: Callable[..., None], change: str,
) -> None:
    with workspace.start_run(experiment="segments") as run:
        run.log_metrics({"loss": 0.9})
        run.log_metrics({"loss": 0.5})
        for loss in (0.3, 0.2, 0.1):
            run.log_metric("loss", loss)
    assert workspace.audit.verify().ok
    [_, _, batch] = _segments(workspace, run.id)  # the third batch holds points 3..5
    tamper(change.format(run=run.id))
    report = workspace.audit.verify()
    assert [p.check for p in report.problems] == ["segment"]
    assert report.problems[0].message.startswith(f"Segment {batch.entity_id} (metric) no longer matches its sealed digest")
