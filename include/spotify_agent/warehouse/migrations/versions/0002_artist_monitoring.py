"""artist_monitoring: watched_artists, artist_snapshots, artist_releases, artist_events.

Revision ID: 0002_artist_monitoring
Revises: 0001_foundation
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_artist_monitoring"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_artists",
        sa.Column("artist_id", sa.String(22), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_run", sa.String(250), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("artist_id", name="pk_watched_artists"),
    )
    op.create_table(
        "artist_snapshots",
        sa.Column("artist_id", sa.String(22), nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("genres", sa.JSON, nullable=False),
        sa.Column("popularity", sa.Integer, nullable=True),
        sa.Column("followers", sa.BigInteger, nullable=True),
        sa.Column("release_ids", sa.JSON, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("artist_id", "snapshot_date", name="pk_artist_snapshots"),
    )
    op.create_table(
        "artist_releases",
        sa.Column("artist_id", sa.String(22), nullable=False),
        sa.Column("album_id", sa.String(22), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("album_type", sa.String(32), nullable=True),
        sa.Column("release_date", sa.String(10), nullable=True),
        sa.Column("total_tracks", sa.Integer, nullable=True),
        sa.Column("first_seen_date", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("artist_id", "album_id", name="pk_artist_releases"),
    )
    op.create_table(
        "artist_events",
        sa.Column("artist_id", sa.String(22), nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sa.Column("delta", sa.Float, nullable=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint(
            "artist_id", "snapshot_date", "event_type", "subject", name="pk_artist_events"
        ),
    )


def downgrade() -> None:
    op.drop_table("artist_events")
    op.drop_table("artist_releases")
    op.drop_table("artist_snapshots")
    op.drop_table("watched_artists")
