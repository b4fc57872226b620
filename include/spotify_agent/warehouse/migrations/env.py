"""Alembic environment: runs on the connection handed over by ``spotify_agent.warehouse.migrate``."""

from __future__ import annotations

from alembic import context

from spotify_agent.warehouse.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through spotify_agent.warehouse.migrate.upgrade() "
        "(or `make migrate`), which hands Alembic a connection"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
