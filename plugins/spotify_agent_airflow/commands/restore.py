"""``restore-warehouse``: list the verified backups, or restore one beside the warehouse.

Works with nothing but the object store: the warehouse and Airflow's metadata DB may both be
gone. It never applies settings and never creates a live warehouse.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import URL, make_url

from spotify_agent import project_dir
from spotify_agent_airflow.commands import (
    connection_outside_tasks,
    keyring_outside_tasks,
    object_store_outside_tasks,
)


def add_parser(commands: Any) -> None:
    restore = commands.add_parser(
        "restore-warehouse",
        help="list verified warehouse backups, or restore one into a new database",
        description=(
            "Without --date: list the verified backups in the object store. With --date: "
            "restore that backup (or the newest: --date latest) into a new database and replay "
            "the erasure log in it. Needs only the object store and the erasure key."
        ),
    )
    restore.add_argument("--date", help="backup day, YYYY-MM-DD, or 'latest'")
    restore.add_argument(
        "--into", help="SQLAlchemy URL of a new (or empty) database to restore into"
    )
    restore.add_argument(
        "--objects",
        help="object store URL (default: $OBJECT_STORE_URL, else the object_store_url variable, "
        "else var/objects)",
    )
    restore.add_argument(
        "--objects-conn-id",
        help="connection for an s3:// store (default: $OBJECT_STORE_CONN_ID or aws_default)",
    )
    restore.add_argument("--conn-id", default="warehouse_default", help="the live warehouse")
    restore.add_argument("--key-conn-id", default="gdpr_erasure_key")
    restore.set_defaults(func=cmd_restore_warehouse)


def cmd_restore_warehouse(args: argparse.Namespace) -> int:
    from spotify_agent.maintenance.restore import RestoreRefused, restore_warehouse

    objects, where = object_store_outside_tasks(args.objects, args.objects_conn_id)
    if not args.date:
        return _list(objects, where)
    try:
        day = None if args.date == "latest" else date.fromisoformat(args.date)
    except ValueError:
        print(f"--date: {args.date!r} is not YYYY-MM-DD or 'latest'", file=sys.stderr)
        return 2
    live, live_url = _live_warehouse(args.conn_id)
    try:
        from spotify_agent.maintenance.restore import choose_backup

        backup = choose_backup(objects, day)
        target = _target(args.into, backup.suffix, backup.backup_date, live_url)
        result = restore_warehouse(
            objects,
            day=backup.backup_date,
            target=target,
            keyring=keyring_outside_tasks(args.key_conn_id),
            at=datetime.now(UTC),
            live=live,
        )
    except (RestoreRefused, ValueError) as error:
        print(f"restore refused: {error}", file=sys.stderr)
        return 1
    finally:
        if live is not None:
            live.close()
    print(result.summary())
    print("To use it, point the warehouse_default connection at it (docs/OPERATIONS.md).")
    return 0


def _list(objects: Any, where: str) -> int:
    from spotify_agent.maintenance.restore import verified_backups

    backups, unreadable = verified_backups(objects)
    print(f"verified warehouse backups in {where}:")
    for backup in backups:
        log = backup.erasure_log
        print(
            f"  {backup.backup_date}  {backup.size_bytes:>12,} bytes  {backup.total_rows:>10,} rows"
            f"  {len(backup.tables)} tables  erasure log: {log.entries if log else '?'} entries"
        )
    for problem in unreadable:
        print(f"  skipped {problem}")
    if not backups:
        print("  none")
    print("Restore one with: make restore DATE=YYYY-MM-DD (or DATE=latest)")
    return 0


def _live_warehouse(conn_id: str) -> tuple[Any | None, URL | None]:
    """A connection to the live warehouse when it is still there (its log copy is read too)."""
    from spotify_agent.warehouse.engine import make_engine
    from spotify_agent_airflow.hooks.warehouse import warehouse_url

    connection, _ = connection_outside_tasks(conn_id)
    if connection is None:
        return None, None
    url = warehouse_url(connection)
    if url.get_backend_name() == "sqlite" and not (url.database and os.path.exists(url.database)):
        return None, url  # lost: never create an empty one by connecting
    try:
        live = make_engine(url).connect()
        from spotify_agent.warehouse.schema import erasure_log

        live.execute(erasure_log.select().limit(1))
    except Exception as error:  # noqa: BLE001 - gone or unmigrated: the object store suffices
        print(f"live warehouse not readable ({type(error).__name__}); using the object store's log")
        return None, url
    return live, url


def _target(into: str | None, suffix: str, day: date, live: URL | None) -> URL:
    if into:
        return make_url(into)
    if suffix == "sqlite":
        return URL.create(
            "sqlite", database=str(project_dir() / "var" / f"warehouse-restored-{day}.db")
        )
    if live is None or live.get_backend_name() != "postgresql":
        raise ValueError("--into: name the PostgreSQL database to restore a PostgreSQL backup into")
    return live.set(database=f"{live.database}_restored_{day.isoformat().replace('-', '')}")
