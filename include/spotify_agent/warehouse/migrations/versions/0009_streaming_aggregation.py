"""streaming_aggregation: catalogue and listener dimensions, daily aggregates, periods.

Revision ID: 0009_streaming_aggregation
Revises: 0008_gdpr_erasure
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_streaming_aggregation"
down_revision = "0008_gdpr_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_tracks",
        sa.Column("track_id", sa.String(22), nullable=False),
        sa.Column("artist_id", sa.String(22), nullable=False),
        sa.Column("artist_name", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("track_id", name="pk_catalogue_tracks"),
    )
    op.create_table(
        "listener_profiles",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_listener_profiles"),
    )
    op.create_table(
        "agg_artist_country",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("artist_id", sa.String(22), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("plays", sa.BigInteger, nullable=False),
        sa.Column("listeners", sa.BigInteger, nullable=False),
        sa.Column("ms_played", sa.BigInteger, nullable=False),
        sa.Column("timed_plays", sa.BigInteger, nullable=False),
        sa.Column("skips", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "period_start", "artist_id", "country", name="pk_agg_artist_country"
        ),
    )
    op.create_table(
        "agg_tracks",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track_id", sa.String(22), nullable=False),
        sa.Column("plays", sa.BigInteger, nullable=False),
        sa.Column("listeners", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kind", "period_start", "track_id", name="pk_agg_tracks"),
    )
    op.create_table(
        "agg_listeners",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("plays", sa.BigInteger, nullable=False),
        sa.Column("ms_played", sa.BigInteger, nullable=False),
        sa.Column("sessions", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kind", "period_start", "user_id", name="pk_agg_listeners"),
    )
    op.create_table(
        "agg_hours",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("plays", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kind", "period_start", "hour", name="pk_agg_hours"),
    )
    op.create_table(
        "aggregation_periods",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plays", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.JSON, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "period_start", name="pk_aggregation_periods"),
    )


def downgrade() -> None:
    op.drop_table("aggregation_periods")
    op.drop_table("agg_hours")
    op.drop_table("agg_listeners")
    op.drop_table("agg_tracks")
    op.drop_table("agg_artist_country")
    op.drop_table("listener_profiles")
    op.drop_table("catalogue_tracks")
