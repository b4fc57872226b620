"""The ``backup`` job: dump a database, store it, prove it by restoring the stored copy, record it
beside its manifest and audit it; then apply the retention policy to the stored backups.

Idempotent: the object key and the ``backups`` row are the day's, so a re-run replaces that
day's backup; retention deletes only what its policy names and never the last verified backup.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.numbers import counted, format_number, size_text
from spotify_agent.core.objects import ensure_parent
from spotify_agent.core.progress import DEFAULT_EVERY_S, Progress
from spotify_agent.maintenance.backup import (
    BackupFailed,
    StepProgress,
    make_backup,
    shrinkage_pct,
    to_delete,
    total_rows,
    upload,
    verify,
)
from spotify_agent.maintenance.backup_manifest import manifest_key
from spotify_agent.maintenance.backup_store import (
    BackupRecord,
    erasure_log_position,
    mark_deleted,
    previous_verified_rows,
    record_backup,
    stored_backups,
    write_backup_manifest,
)
from spotify_agent.maintenance.confs import BackupConf

log = logging.getLogger(__name__)


class SuspectBackup(PermanentFailure):
    """The backup is stored and verified, but the data it holds looks lost: a retry would only
    back up the same loss, so the run fails at once for a person to look."""


def backup_key(database: str, day: date, suffix: str) -> str:
    return f"backups/{database}/{day.isoformat()}/{database}.{suffix}"


@dataclass(frozen=True)
class BackupOutcome:
    """The day's backup as stored and recorded, and the previous verified one's size."""

    record: BackupRecord
    previous_rows: int | None

    @property
    def rows(self) -> int:
        return total_rows(self.record.tables)

    def counts(self) -> dict[str, int]:
        return {
            "size_bytes": self.record.size_bytes,
            "rows": self.rows,
            "tables": len(self.record.tables),
        }

    def as_result(self) -> dict[str, Any]:
        """The task's return value (XCom): where the backup is and how large."""
        return {"object_key": self.record.object_key, **self.counts()}

    def summary_line(self) -> str:
        """``warehouse backup of 2026-11-22 verified: 1.2 MiB, 12,345 rows of data in 30
        tables (backups/warehouse/2026-11-22/warehouse.dump)``."""
        record = self.record
        return (
            f"{record.database} backup of {record.backup_date.isoformat()} {record.status}: "
            f"{size_text(record.size_bytes)}, {format_number(self.rows)} rows of data in "
            f"{format_number(len(record.tables))} tables ({record.object_key})"
        )


def back_up_database(
    engine: Engine,
    source: URL,
    objects: Any,
    *,
    database: str,
    day: date,
    conf: BackupConf,
    attempt: Attempt,
    now: datetime | None = None,
    every_s: float = DEFAULT_EVERY_S,
) -> BackupOutcome:
    """Back up ``source`` as ``database``'s backup of ``day`` under ``objects``, recorded in the
    warehouse of ``engine``, logging each step's progress (tables checksummed, MiB sent and
    read back) every ``every_s`` seconds. Raises :class:`BackupFailed` (retried: a new dump)
    when the stored copy does not verify, :class:`SuspectBackup` when it is empty or shrank
    past ``conf.max_shrink_pct``; either after it is recorded."""
    record = store_and_verify(
        source, objects, database=database, day=day, progress=step_progress(database, every_s)
    )
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        previous = previous_verified_rows(connection, database, before=day)
        record_backup(connection, record, run_id=attempt.run_id, trace_id=attempt.trace_id, at=at)
        # Beside the dump, so a restore needs nothing but the object store.
        write_backup_manifest(
            objects,
            record,
            run_id=attempt.run_id,
            trace_id=attempt.trace_id,
            at=at,
            erasure_log=erasure_log_position(connection) if database == "warehouse" else None,
        )
        outcome = BackupOutcome(record, previous)
        attempt.record(
            connection,
            f"backup_{record.status}",
            outcome=record.status,
            counts=outcome.counts(),
            entity_type="backup",
            entity_key=f"{database}:{day.isoformat()}",
            detail=record.detail or record.object_key,
            at=at,
        )
    problem = _problem(outcome, conf)
    if problem is not None:
        log.warning("%s", outcome.summary_line())
        raise problem
    return outcome


def step_progress(database: str, every_s: float) -> StepProgress:
    """The progress of each step of ``database``'s backup, logged every ``every_s`` seconds."""

    def step(what: str, total: int | None, unit: str) -> Progress:
        return Progress(f"{database} backup: {what}", total, unit=unit, every_s=every_s, logger=log)

    return step


def store_and_verify(
    source: URL,
    objects: Any,
    *,
    database: str,
    day: date,
    progress: StepProgress | None = None,
) -> BackupRecord:
    """Dump ``source``, upload the dump, then restore the copy downloaded back and compare."""
    with tempfile.TemporaryDirectory(prefix="backup-") as workdir:
        local = make_backup(source, Path(workdir), progress=progress)
        key = backup_key(database, day, local.suffix)
        stored = objects / key
        ensure_parent(stored)
        size, sha256 = upload(local.path, stored, progress=progress, what=f"uploading {key}")
    status, detail = "verified", ""
    try:
        verify(
            stored,
            suffix=local.suffix,
            sha256=sha256,
            expected=local.tables,
            url=source,
            progress=progress,
            size=size,
        )
    except BackupFailed as error:
        status, detail = "failed", str(error)
    return BackupRecord(database, day, key, size, sha256, local.tables, status, detail)


def _problem(outcome: BackupOutcome, conf: BackupConf) -> Exception | None:
    """Why the recorded backup fails the run, if it does."""
    record, rows, previous = outcome.record, outcome.rows, outcome.previous_rows
    key = record.object_key
    if record.status == "failed":
        # Retried: a new dump and a new verification (the day's object is replaced).
        return BackupFailed(f"backup {key} failed verification: {record.detail}")
    if rows == 0:
        return SuspectBackup(f"backup {key} is empty: the {record.database} holds no rows")
    # The metadata DB shrinks by design when log_rotation cleans it: only the warehouse is held
    # to the shrink limit.
    shrink = shrinkage_pct(previous, rows) if record.database == "warehouse" else None
    if shrink is not None and shrink > conf.max_shrink_pct:
        return SuspectBackup(
            f"backup {key} holds {rows} rows, {shrink:.1f}% fewer than the previous verified "
            f"backup's {previous} (max_shrink_pct {conf.max_shrink_pct:g}); it is stored and "
            "verified, check what deleted the data"
        )
    return None


@dataclass(frozen=True)
class RetentionApplied:
    """What the policy kept and deleted of one database's backups."""

    database: str
    kept: int
    deleted: tuple[date, ...]


@dataclass(frozen=True)
class BackupRetention:
    databases: tuple[RetentionApplied, ...]

    def as_result(self) -> dict[str, int]:
        """The task's return value (XCom): backups kept and deleted, all databases together."""
        return {
            "kept": sum(each.kept for each in self.databases),
            "deleted": sum(len(each.deleted) for each in self.databases),
        }

    def summary_line(self) -> str:
        """``warehouse retention: 7 backups kept, 2 deleted (2026-10-01, 2026-10-02); ...``."""
        return "; ".join(
            f"{each.database} retention: "
            + counted([(each.kept, "backups kept"), (len(each.deleted), "deleted")], always=2)
            + (f" ({', '.join(day.isoformat() for day in each.deleted)})" if each.deleted else "")
            for each in self.databases
        )


def apply_backup_retention(
    engine: Engine,
    objects: Any,
    databases: Sequence[str],
    conf: BackupConf,
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> BackupRetention:
    """Delete the backups of each of ``databases`` that the policy no longer keeps."""
    return BackupRetention(
        tuple(
            apply_retention(engine, objects, database, conf, attempt, now=now)
            for database in databases
        )
    )


def apply_retention(
    engine: Engine,
    objects: Any,
    database: str,
    conf: BackupConf,
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> RetentionApplied:
    with engine.connect() as connection:
        stored = stored_backups(connection, database)
    doomed = to_delete(
        [backup for backup, _ in stored.values()],
        daily=conf.keep_daily,
        weekly=conf.keep_weekly,
        monthly=conf.keep_monthly,
    )
    for day in doomed:
        # The manifest first: a dump without one is never offered for a restore.
        for path in (objects / manifest_key(database, day), objects / stored[day][1]):
            if path.exists():
                path.unlink()
    with engine.begin() as connection:
        deleted = mark_deleted(connection, database, doomed)
        if doomed:
            attempt.record(
                connection,
                "backups_deleted",
                counts={"backups": deleted},
                entity_type="backup",
                entity_key=database,
                detail=", ".join(day.isoformat() for day in doomed),
                at=now,
            )
    return RetentionApplied(database, len(stored) - len(doomed), tuple(doomed))
