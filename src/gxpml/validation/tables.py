"""The validation tables: locked acceptance criteria and the validations run under them.

Both are GxP records (:class:`Audited`): inserting one is an audit event, nothing is
updated or deleted. A criteria lock is written *before* the evaluation it governs runs, so
the trail shows the acceptance criteria were fixed before anyone saw a result.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gxpml.canonical import new_id, utcnow
from gxpml.store.tables import Audited, UTCDateTime

__all__ = ["CriteriaLock", "Validation"]


class CriteriaLock(Audited):
    """Acceptance criteria fixed for a run's model before it is tested."""

    __tablename__ = "criteria_locks"
    __audit_entity__ = "criteria_lock"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("vcl"))
    run_id: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the criteria's canonical JSON
    artifact: Mapped[str] = mapped_column(String(64))  # the canonical JSON, stored
    entries: Mapped[int] = mapped_column(Integer)
    locked_by: Mapped[str] = mapped_column(String(64))
    locked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_criteria_locks_run", "run_id", "locked_at"),)


class Validation(Audited):
    """One evaluation of a run's model against locked criteria, and the evidence it wrote."""

    __tablename__ = "validations"
    __audit_entity__ = "validation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("val"))
    run_id: Mapped[str] = mapped_column(String(32))
    lock_id: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(250))
    dataset: Mapped[str | None] = mapped_column(String(300))
    passed: Mapped[bool | None] = mapped_column(Boolean)  # None: no criteria were declared
    results: Mapped[str] = mapped_column(String(64))  # results.json
    report_html: Mapped[str] = mapped_column(String(64))
    report_pdf: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_validations_run", "run_id", "created_at"),)
