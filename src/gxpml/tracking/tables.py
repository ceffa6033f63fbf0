"""The tracking tables: runs and what they record.

A run and its params, tags, declared inputs, linked artifacts and models are GxP records
(:class:`Audited`): each insert and update is an audit event, nothing is deleted. Metric
points are high-volume, so they are not one event each: they are written in segments, and
each segment's digest is sealed into one audit event (:meth:`UnitOfWork.seal_segment`);
``audit verify`` re-reads the points through the loader registered here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Double,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gxpml.audit.verify import register_segment_source
from gxpml.canonical import new_id, utcnow
from gxpml.store.tables import Audited, Base, UTCDateTime

__all__ = ["METRIC_SEGMENT", "MetricPoint", "Run", "RunArtifact", "RunInput", "RunModel", "RunParam", "RunTag"]

#: The segment kind of sealed metric points.
METRIC_SEGMENT = "metric"


class Run(Audited):
    """One execution of training code: who ran what, with which code, environment and seed.

    ``status`` moves only forward (see :class:`gxpml.tracking.records.RunStatus`); each move
    is an audited update whose reason says why the run ended.
    """

    __tablename__ = "runs"
    __audit_entity__ = "run"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("run"))
    experiment: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))  # the actor's user id
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # What reproduce needs: the environment (a JSON artifact), the entry point and its code.
    environment_digest: Mapped[str | None] = mapped_column(String(64))
    entry_point: Mapped[str | None] = mapped_column(String(1000))
    code_digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the entry-point file
    code_artifact: Mapped[str | None] = mapped_column(String(64))  # the file itself, unless a clean commit
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_runs_experiment_started", "experiment", "started_at"),
        Index("ix_runs_started_at", "started_at"),
    )


class RunParam(Audited):
    """A hyperparameter: set once per run, never changed (its value is canonical JSON)."""

    __tablename__ = "run_params"
    __audit_entity__ = "run_param"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunTag(Audited):
    """A label on a run; setting it again while the run is running keeps the old value in
    the audit trail."""

    __tablename__ = "run_tags"
    __audit_entity__ = "run_tag"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunInput(Audited):
    """A declared input of a run: a dataset version (and split) it read."""

    __tablename__ = "run_inputs"
    __audit_entity__ = "run_input"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rin"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # dataset
    ref: Mapped[str] = mapped_column(String(300))  # the reference resolved to one version, NAME:VERSION
    version_id: Mapped[str | None] = mapped_column(String(64))  # the dataset version record
    digest: Mapped[str | None] = mapped_column(String(64))  # its content digest
    split: Mapped[str | None] = mapped_column(String(32))  # train | validation | test; None: all rows
    split_id: Mapped[str | None] = mapped_column(String(32))  # the split assignment the rows came from
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RunArtifact(Audited):
    """An artifact (by digest) linked to a run under a name unique in the run."""

    __tablename__ = "run_artifacts"
    __audit_entity__ = "run_artifact"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rar"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32))  # artifact | environment | code | model | example
    digest: Mapped[str] = mapped_column(ForeignKey("artifacts.digest"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "name"),)


class RunModel(Audited):
    """A model a run produced: its serialized artifact, format, trusted types and signature."""

    __tablename__ = "run_models"
    __audit_entity__ = "run_model"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("mdl"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    flavor: Mapped[str] = mapped_column(String(32))  # sklearn | xgboost | lightgbm
    format: Mapped[str] = mapped_column(String(16))  # skops | pickle
    digest: Mapped[str] = mapped_column(ForeignKey("artifacts.digest"))
    trusted_types: Mapped[str] = mapped_column(Text)  # JSON list, what skops may construct on load
    vouched_types: Mapped[str] = mapped_column(Text)  # JSON list, those the logging user vouched for
    signature: Mapped[str] = mapped_column(Text)  # JSON: input columns and dtypes
    example_digest: Mapped[str | None] = mapped_column(ForeignKey("artifacts.digest"))
    libraries: Mapped[str] = mapped_column(Text)  # JSON: versions of the libraries that saved it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "name"),)


class MetricPoint(Base):
    """One metric value. Not audited row by row: sealed in segments (``segment_id``).

    ``seq`` numbers the points of a run in logging order, so "the latest value" of a metric
    is well defined even when steps repeat.
    """

    __tablename__ = "metric_points"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    segment_id: Mapped[str] = mapped_column(String(32), index=True)
    key: Mapped[str] = mapped_column(String(250))
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Double())
    ts: Mapped[str] = mapped_column(String(27))

    __table_args__ = (Index("ix_metric_points_run_key", "run_id", "key", "seq"),)


def sealed_row(run_id: str, seq: int, key: str, step: int, value: float, ts: str) -> dict[str, Any]:
    """A metric point as its segment digest covers it (the loader below yields the same)."""
    return {"key": key, "run_id": run_id, "seq": seq, "step": step, "ts": ts, "value": value}


_SEGMENT_POINTS = text(
    "SELECT run_id, seq, key, step, value, ts FROM metric_points WHERE segment_id = :s ORDER BY run_id, seq"
)


def _metric_points(conn: Connection, segment_id: str) -> Iterator[dict[str, Any]]:
    rows = conn.execute(_SEGMENT_POINTS, {"s": segment_id})
    for run_id, seq, key, step, value, ts in rows:
        yield sealed_row(run_id, int(seq), key, int(step), float(value), ts)


register_segment_source(METRIC_SEGMENT, _metric_points)
