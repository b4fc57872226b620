"""playlist_update: managed_playlists, playlist_syncs.

Revision ID: 0005_playlist_update
Revises: 0004_wider_sources
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_playlist_update"
down_revision = "0004_wider_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "managed_playlists",
        sa.Column("playlist_id", sa.String(22), nullable=False),
        sa.Column("spotify_conn_id", sa.String(250), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("window_days", sa.Integer, nullable=False),
        sa.Column("track_ids", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("added_by_run", sa.String(250), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("playlist_id", name="pk_managed_playlists"),
    )
    op.create_table(
        "playlist_syncs",
        sa.Column("playlist_id", sa.String(22), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("snapshot_before", sa.String(128), nullable=False),
        sa.Column("snapshot_after", sa.String(128), nullable=True),
        sa.Column("target_size", sa.Integer, nullable=False),
        sa.Column("added", sa.JSON, nullable=False),
        sa.Column("removed", sa.JSON, nullable=False),
        sa.Column("moved", sa.Integer, nullable=False),
        sa.Column("write_calls", sa.Integer, nullable=False),
        sa.Column("quarantined", sa.Integer, nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("playlist_id", "run_id", name="pk_playlist_syncs"),
    )


def downgrade() -> None:
    op.drop_table("playlist_syncs")
    op.drop_table("managed_playlists")
