"""lineage edges: the typed graph over datasets, runs, code, environments and models

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("upstream", sa.String(length=200), nullable=False),
        sa.Column("downstream", sa.String(length=200), nullable=False),
        sa.Column("edge_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edges")),
    )
    op.create_index("ix_lineage_edges_downstream", "lineage_edges", ["downstream", "edge_type"])
    op.create_index("ix_lineage_edges_upstream", "lineage_edges", ["upstream", "edge_type"])


def downgrade() -> None:
    op.drop_index("ix_lineage_edges_upstream", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_downstream", table_name="lineage_edges")
    op.drop_table("lineage_edges")
