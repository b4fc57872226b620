"""listening_ingest: listening_events, listening_cursors, ingested_files.

Revision ID: 0003_listening_ingest
Revises: 0002_artist_monitoring
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_listening_ingest"
down_revision = "0002_artist_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listening_events",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("played_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track_id", sa.String(22), nullable=False),
        sa.Column("ms_played", sa.Integer, nullable=True),
        sa.Column("context_uri", sa.String(250), nullable=True),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "played_at", "track_id", name="pk_listening_events"),
    )
    op.create_index("ix_listening_events_played_at", "listening_events", ["played_at"])
    op.create_table(
        "listening_cursors",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("spotify_conn_id", sa.String(250), nullable=False),
        sa.Column("after_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_listening_cursors"),
    )
    op.create_table(
        "ingested_files",
        sa.Column("object_key", sa.String(1024), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("quarantined", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_key", "sha256", name="pk_ingested_files"),
    )


def downgrade() -> None:
    op.drop_table("ingested_files")
    op.drop_table("listening_cursors")
    op.drop_index("ix_listening_events_played_at", table_name="listening_events")
    op.drop_table("listening_events")
