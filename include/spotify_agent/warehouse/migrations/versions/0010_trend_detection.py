"""trend_detection: listening_trends.

Revision ID: 0010_trend_detection
Revises: 0009_streaming_aggregation
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_trend_detection"
down_revision = "0009_streaming_aggregation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listening_trends",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("entity_type", sa.String(8), nullable=False),
        sa.Column("entity_id", sa.String(22), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("plays", sa.BigInteger, nullable=False),
        sa.Column("listeners", sa.BigInteger, nullable=False),
        sa.Column("baseline_median", sa.Float, nullable=False),
        sa.Column("baseline_mad", sa.Float, nullable=False),
        sa.Column("baseline_days", sa.Integer, nullable=False),
        sa.Column("baseline_level", sa.Float, nullable=False),
        sa.Column("robust_z", sa.Float, nullable=False),
        sa.Column("ratio", sa.Float, nullable=True),
        sa.Column("last_7d_plays", sa.BigInteger, nullable=False),
        sa.Column("prev_7d_plays", sa.BigInteger, nullable=True),
        sa.Column("wow_growth", sa.Float, nullable=True),
        sa.Column("wow_z", sa.Float, nullable=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("significant", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "entity_type", "entity_id", name="pk_listening_trends"),
    )


def downgrade() -> None:
    op.drop_table("listening_trends")
