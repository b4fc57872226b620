"""Wider source columns: object keys (up to 1,024 characters) with a line number must fit.

quarantine.source was 128 and listening_events.source 512 characters; PostgreSQL refused longer
values (SQLite stored them), so a file with a long key failed its ingest task on every retry.

Revision ID: 0004_wider_sources
Revises: 0003_listening_ingest
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_wider_sources"
down_revision = "0003_listening_ingest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as table:
        table.alter_column("source", type_=sa.String(1100), existing_nullable=False)
    with op.batch_alter_table("listening_events") as table:
        table.alter_column("source", type_=sa.String(1100), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("listening_events") as table:
        table.alter_column("source", type_=sa.String(512), existing_nullable=False)
    with op.batch_alter_table("quarantine") as table:
        table.alter_column("source", type_=sa.String(128), existing_nullable=False)
