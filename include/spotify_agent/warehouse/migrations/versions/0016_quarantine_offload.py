"""quarantine offload: large records go to the object store; every row names its listener.

Rows get the record's size, the object key and SHA-256 of a record kept in the object store
(over ``spotify_agent.core.quarantine.MAX_INLINE_BYTES``), and the user id parsed from the record
(indexed: an erasure looks it up). Rows written before stay as they are, with NULLs: their payload
is inline and erasure still matches it as text.

Revision ID: 0016_quarantine_offload
Revises: 0015_erasure_key_ids
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_quarantine_offload"
down_revision = "0015_erasure_key_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("payload_size_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("payload_object_key", sa.String(1100), nullable=True))
        batch.add_column(sa.Column("payload_object_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_id", sa.String(128), nullable=True))
        batch.create_index("ix_quarantine_user_id", ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_index("ix_quarantine_user_id")
        batch.drop_column("user_id")
        batch.drop_column("payload_object_sha256")
        batch.drop_column("payload_object_key")
        batch.drop_column("payload_size_bytes")
