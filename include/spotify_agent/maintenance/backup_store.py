"""The ``backups`` table: what was stored where, its fingerprint and whether a restore proved it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from spotify_agent.maintenance.backup import (
    Fingerprint,
    StoredBackup,
    fingerprint_json,
    total_rows,
)
from spotify_agent.maintenance.backup_manifest import (
    BackupManifest,
    ErasureLogPosition,
    write_manifest,
)
from spotify_agent.warehouse.schema import backups, erasure_log
from spotify_agent.warehouse.times import stored_utc
from spotify_agent.warehouse.upsert import upsert


@dataclass(frozen=True)
class BackupRecord:
    database: str
    backup_date: date
    object_key: str
    size_bytes: int
    sha256: str
    tables: Fingerprint
    status: str
    detail: str = ""


def record_backup(
    connection: Connection,
    record: BackupRecord,
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> None:
    """Upsert the day's backup (a re-run replaces the day's row, as it replaced the object)."""
    upsert(
        connection,
        backups,
        [
            {
                "database": record.database,
                "backup_date": record.backup_date,
                "object_key": record.object_key,
                "size_bytes": record.size_bytes,
                "sha256": record.sha256,
                "total_rows": total_rows(record.tables),
                "tables": fingerprint_json(record.tables),
                "status": record.status,
                "detail": record.detail,
                "run_id": run_id,
                "trace_id": trace_id,
                "created_at": at,
                "verified_at": at if record.status == "verified" else None,
            }
        ],
        key=("database", "backup_date"),
    )


def write_backup_manifest(
    objects: Any,
    record: BackupRecord,
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
    erasure_log: ErasureLogPosition | None,
) -> str:
    """The record's manifest, stored beside its dump; returns its key."""
    manifest = BackupManifest(
        database=record.database,
        backup_date=record.backup_date,
        object_key=record.object_key,
        size_bytes=record.size_bytes,
        sha256=record.sha256,
        tables=fingerprint_json(record.tables),
        total_rows=total_rows(record.tables),
        status=record.status,
        detail=record.detail,
        created_at=at.isoformat(),
        run_id=run_id,
        trace_id=trace_id,
        erasure_log=erasure_log,
    )
    return write_manifest(objects, manifest)


def erasure_log_position(connection: Connection) -> ErasureLogPosition:
    """How far the warehouse's erasure log reached, and with which keys."""
    entries, last = connection.execute(
        select(func.count(), func.max(erasure_log.c.erased_at))
    ).one()
    key_ids = connection.execute(
        select(erasure_log.c.key_id).where(erasure_log.c.key_id.is_not(None)).distinct()
    ).scalars()
    return ErasureLogPosition(
        entries=int(entries),
        key_ids=sorted(key_ids),
        last_erased_at=stored_utc(last).isoformat() if last is not None else None,
    )


def previous_verified_rows(connection: Connection, database: str, *, before: date) -> int | None:
    """Total rows of the newest verified backup strictly before ``before``."""
    query = (
        select(backups.c.total_rows)
        .where(
            backups.c.database == database,
            backups.c.status == "verified",
            backups.c.backup_date < before,
        )
        .order_by(backups.c.backup_date.desc())
        .limit(1)
    )
    value = connection.execute(query).scalar()
    return int(value) if value is not None else None


def stored_backups(connection: Connection, database: str) -> dict[date, tuple[StoredBackup, str]]:
    """Every backup not yet deleted, with its object key."""
    query = select(backups.c.backup_date, backups.c.status, backups.c.object_key).where(
        backups.c.database == database, backups.c.status != "deleted"
    )
    return {day: (StoredBackup(day, status), key) for day, status, key in connection.execute(query)}


def latest_verified(
    connection: Connection, database: str, *, on: date | None = None
) -> dict[str, Any] | None:
    """The newest verified backup (or the one of day ``on``) as a row mapping."""
    query = select(backups).where(backups.c.database == database, backups.c.status == "verified")
    if on is not None:
        query = query.where(backups.c.backup_date == on)
    row = (
        connection.execute(query.order_by(backups.c.backup_date.desc()).limit(1)).mappings().first()
    )
    return dict(row) if row is not None else None


def mark_deleted(connection: Connection, database: str, days: Sequence[date]) -> int:
    if not days:
        return 0
    result = connection.execute(
        update(backups)
        .where(backups.c.database == database, backups.c.backup_date.in_(list(days)))
        .values(status="deleted")
    )
    return int(result.rowcount or 0)
