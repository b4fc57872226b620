"""gdpr_erasure: erasure_requests, erasure_steps, erasure_log.

Revision ID: 0008_gdpr_erasure
Revises: 0007_backup
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_gdpr_erasure"
down_revision = "0007_backup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("user_hmac", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by_run", sa.String(250), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON, nullable=True),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("request_id", name="pk_erasure_requests"),
    )
    op.create_index("ix_erasure_requests_status", "erasure_requests", ["status"])
    op.create_table(
        "erasure_steps",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("erased", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "store", name="pk_erasure_steps"),
    )
    op.create_table(
        "erasure_log",
        sa.Column("user_hmac", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_hmac", name="pk_erasure_log"),
    )


def downgrade() -> None:
    op.drop_table("erasure_log")
    op.drop_table("erasure_steps")
    op.drop_index("ix_erasure_requests_status", table_name="erasure_requests")
    op.drop_table("erasure_requests")
