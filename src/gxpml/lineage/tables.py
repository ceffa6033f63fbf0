"""The lineage edge table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gxpml.canonical import new_id, utcnow
from gxpml.store.tables import Audited, UTCDateTime

__all__ = ["LineageEdge"]


class LineageEdge(Audited):
    """``upstream`` was used in making ``downstream`` (``edge_type`` says how)."""

    __tablename__ = "lineage_edges"
    __audit_entity__ = "lineage_edge"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("edg"))
    upstream: Mapped[str] = mapped_column(String(200))
    downstream: Mapped[str] = mapped_column(String(200))
    edge_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_lineage_edges_downstream", "downstream", "edge_type"),
        Index("ix_lineage_edges_upstream", "upstream", "edge_type"),
    )
