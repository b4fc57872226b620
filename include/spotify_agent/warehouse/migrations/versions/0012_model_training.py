"""model_training: model_registry.

Revision ID: 0012_model_training
Revises: 0011_reporting
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_model_training"
down_revision = "0011_reporting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_registry",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("code_version", sa.String(32), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("compared", sa.JSON, nullable=False),
        sa.Column("users", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("object_prefix", sa.String(250), nullable=False),
        sa.Column("weights_sha256", sa.String(64), nullable=False),
        sa.Column("serving", sa.Boolean, nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("model_id", name="pk_model_registry"),
    )
    op.create_index("ix_model_registry_serving", "model_registry", ["serving"])


def downgrade() -> None:
    op.drop_index("ix_model_registry_serving", table_name="model_registry")
    op.drop_table("model_registry")
