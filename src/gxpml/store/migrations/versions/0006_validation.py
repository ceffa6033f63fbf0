"""validation: locked acceptance criteria and validations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "criteria_locks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("artifact", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=False),
        sa.Column("locked_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_locks")),
    )
    op.create_index("ix_criteria_locks_run", "criteria_locks", ["run_id", "locked_at"])
    op.create_table(
        "validations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("lock_id", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("dataset", sa.String(length=300), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("results", sa.String(length=64), nullable=False),
        sa.Column("report_html", sa.String(length=64), nullable=False),
        sa.Column("report_pdf", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validations")),
    )
    op.create_index("ix_validations_run", "validations", ["run_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_validations_run", table_name="validations")
    op.drop_table("validations")
    op.drop_index("ix_criteria_locks_run", table_name="criteria_locks")
    op.drop_table("criteria_locks")
