"""reporting: reports.

Revision ID: 0011_reporting
Revises: 0010_trend_detection
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_reporting"
down_revision = "0010_trend_detection"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("label", sa.String(10), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("object_prefix", sa.String(250), nullable=False),
        sa.Column("html_sha256", sa.String(64), nullable=False),
        sa.Column("html_bytes", sa.Integer, nullable=False),
        sa.Column("headline", sa.JSON, nullable=False),
        sa.Column("quality_flagged", sa.Boolean, nullable=False),
        sa.Column("emailed_sha256", sa.String(64), nullable=True),
        sa.Column("emailed_to", sa.JSON, nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "label", name="pk_reports"),
    )


def downgrade() -> None:
    op.drop_table("reports")
