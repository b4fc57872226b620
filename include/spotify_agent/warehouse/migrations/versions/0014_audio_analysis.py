"""audio_analysis: track_audio_features.

Revision ID: 0014_audio_analysis
Revises: 0013_recommendation_update
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_audio_analysis"
down_revision = "0013_recommendation_update"
branch_labels = None
depends_on = None

_FEATURES = (
    "duration_seconds",
    "analysed_seconds",
    "tempo_bpm",
    "beat_confidence",
)
_SHAPE = (
    "spectral_centroid_mean",
    "spectral_centroid_std",
    "spectral_bandwidth_mean",
    "spectral_rolloff_mean",
    "zero_crossing_rate",
    "onset_rate",
    "energy",
    "danceability",
)


def upgrade() -> None:
    op.create_table(
        "track_audio_features",
        sa.Column("track_id", sa.String(22), nullable=False),
        sa.Column("extractor_version", sa.String(64), nullable=False),
        sa.Column("object_key", sa.Text, nullable=False),
        sa.Column("source_signature", sa.String(200), nullable=False),
        sa.Column("audio_sha256", sa.String(64), nullable=False),
        sa.Column("source_sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in _FEATURES),
        sa.Column("key", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(5), nullable=False),
        sa.Column("key_confidence", sa.Float, nullable=False),
        sa.Column("loudness_db", sa.Float, nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in _SHAPE),
        sa.Column("mfcc_mean", sa.JSON, nullable=False),
        sa.Column("mfcc_std", sa.JSON, nullable=False),
        sa.Column("chroma_mean", sa.JSON, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("track_id", "extractor_version", name="pk_track_audio_features"),
    )


def downgrade() -> None:
    op.drop_table("track_audio_features")
