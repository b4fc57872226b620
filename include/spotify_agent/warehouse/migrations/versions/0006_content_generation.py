"""content_generation: content_versions.

Revision ID: 0006_content_generation
Revises: 0005_playlist_update
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_content_generation"
down_revision = "0005_playlist_update"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_versions",
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sentences", sa.JSON, nullable=False),
        sa.Column("generator", sa.String(128), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("object_key", sa.String(1024), nullable=True),
        sa.Column("drafted_by_run", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(250), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "subject_type", "subject_id", "content_sha256", name="pk_content_versions"
        ),
    )


def downgrade() -> None:
    op.drop_table("content_versions")
