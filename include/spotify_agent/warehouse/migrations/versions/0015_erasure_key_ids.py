"""gdpr erasure keys: every logged hash and request names the key that made it.

``erasure_log`` becomes append-only (one entry per completed request, so a repeated erasure adds
an entry, never replaces one) and both tables get ``key_id``. Entries written before key ids
existed keep ``key_id`` NULL until ``migrate-warehouse`` stamps them with the id of the key
configured at upgrade (the only key there ever was: it could not change before this revision).

Revision ID: 0015_erasure_key_ids
Revises: 0014_audio_analysis
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_erasure_key_ids"
down_revision = "0014_audio_analysis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("erasure_requests") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))
    with op.batch_alter_table("erasure_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))
        batch.drop_constraint("pk_erasure_log", type_="primary")
        batch.create_primary_key("pk_erasure_log", ["request_id"])
        batch.create_index("ix_erasure_log_key_hmac", ["key_id", "user_hmac"])


def downgrade() -> None:
    with op.batch_alter_table("erasure_log") as batch:
        batch.drop_index("ix_erasure_log_key_hmac")
        batch.drop_constraint("pk_erasure_log", type_="primary")
        batch.create_primary_key("pk_erasure_log", ["user_hmac"])
        batch.drop_column("key_id")
    with op.batch_alter_table("erasure_requests") as batch:
        batch.drop_column("key_id")
