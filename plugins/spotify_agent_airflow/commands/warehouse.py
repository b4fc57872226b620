"""``migrate-warehouse``: the warehouse migrations, then key ids for erasure-log entries older
than them (migration 0015)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spotify_agent_airflow.commands import (
    keyring_outside_tasks,
    object_store_outside_tasks,
    warehouse_url_outside_tasks,
)


def add_parser(commands: Any) -> None:
    migrate = commands.add_parser("migrate-warehouse", help="run the warehouse migrations")
    migrate.add_argument("--conn-id", default="warehouse_default")
    migrate.set_defaults(func=cmd_migrate_warehouse)


def cmd_migrate_warehouse(args: argparse.Namespace) -> int:
    import logging

    from spotify_agent.warehouse.migrate import upgrade

    # Alembic narrates every step at INFO; the one-line result below says what happened.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from spotify_agent_airflow.hooks.warehouse import shared_engine

    url = warehouse_url_outside_tasks(args.conn_id)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = shared_engine(url)
    before, after = upgrade(engine)
    where = url.render_as_string(hide_password=True)
    if before == after:
        print(f"warehouse {where}: already at {after}")
    else:
        print(f"warehouse {where}: migrated {before or 'empty'} -> {after}")
    return _stamp_erasure_log(engine)


def _stamp_erasure_log(engine: Any) -> int:
    """Give erasure-log entries written before key ids the current key's id (migration 0015)."""
    from spotify_agent.maintenance.erasure import referenced_key_ids, stamp_legacy_entries

    with engine.connect() as connection:
        if None not in referenced_key_ids(connection):
            return 0
    keyring = keyring_outside_tasks()
    if keyring.current is None:
        print("erasure-log entries predate key ids; configure gdpr_erasure_key and run again")
        return 1
    with engine.begin() as connection:
        stamped = stamp_legacy_entries(connection, object_store_outside_tasks()[0], keyring=keyring)
    print(f"stamped {stamped} erasure-log entries and requests with key {keyring.current_id}")
    return 0
