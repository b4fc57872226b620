"""Verified backups of the warehouse: dump, store, restore into a scratch database, compare.

A backup counts only once a copy *downloaded back from the object store* restores into a fresh
database whose tables match the source, row count and content checksum, table by table. The
source's fingerprint is taken in the same snapshot the dump reads (PostgreSQL: an exported
snapshot shared with ``pg_dump``; SQLite: one read transaction around the online backup), so
writes during the backup cannot make a good backup look bad or the reverse.

PostgreSQL backups are ``pg_dump`` custom-format archives; SQLite backups are database files made
with SQLite's online backup API. Paths are anything with ``open()`` (``pathlib.Path``, Airflow's
``ObjectStoragePath``, ``upath.UPath``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import URL

from spotify_agent.core.progress import Progress
from spotify_agent.warehouse.engine import make_engine

CHUNK = 1 << 20  # a MiB: uploads and downloads count their progress in these

# Makes the Progress of one step of a backup: what it is, how many units in all, the unit. A
# step given none logs nothing (the restore command, the tests).
StepProgress = Callable[[str, int | None, str], Progress]


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    checksum: str


Fingerprint = dict[str, TableFingerprint]


class BackupFailed(RuntimeError):
    """A backup could not be made, stored or verified; the message says which table or step."""


def fingerprint(
    connection: Connection,
    *,
    progress: StepProgress | None = None,
    what: str = "checksumming tables",
) -> Fingerprint:
    """Row count and SHA-256 of every table's rows (ordered by primary key, else all columns);
    ``progress`` counts the tables done."""
    metadata = MetaData()
    result: Fingerprint = {}
    names = sorted(inspect(connection).get_table_names())
    step = progress(what, len(names), "tables") if progress else None
    for name in names:
        table = Table(name, metadata, autoload_with=connection)
        order = list(table.primary_key.columns) or list(table.columns)
        digest = hashlib.sha256()
        rows = 0
        for row in connection.execute(select(table).order_by(*order)).yield_per(5000):
            digest.update(json.dumps(list(row), default=_canonical).encode())
            digest.update(b"\n")
            rows += 1
        result[name] = TableFingerprint(rows, digest.hexdigest())
        if step:
            step.advance()
    if step:
        step.finish()
    return result


def _canonical(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def differences(source: Fingerprint, restored: Fingerprint) -> list[str]:
    """What differs between two fingerprints, one line per table (empty when equal)."""
    problems = []
    for name in sorted(set(source) | set(restored)):
        want, got = source.get(name), restored.get(name)
        if want is None or got is None:
            problems.append(
                f"{name}: {'missing from the restore' if got is None else 'not in the source'}"
            )
        elif want.rows != got.rows:
            problems.append(f"{name}: {got.rows} rows restored, {want.rows} in the source")
        elif want.checksum != got.checksum:
            problems.append(f"{name}: same {want.rows} rows, different content")
    return problems


# Tables about the jobs rather than the business: they fill even when no data arrives (every
# task attempt writes an audit row), so they would hide an empty or shrinking warehouse.
BOOKKEEPING_TABLES = frozenset({"alembic_version", "audit_log", "backups", "health_checks"})


def total_rows(tables: Fingerprint) -> int:
    """Rows of data, bookkeeping left out (an empty warehouse counts 0 whatever its audit log)."""
    return sum(t.rows for name, t in tables.items() if name not in BOOKKEEPING_TABLES)


def fingerprint_json(tables: Fingerprint) -> dict[str, dict[str, Any]]:
    return {name: asdict(table) for name, table in tables.items()}


def fingerprint_from_json(data: Mapping[str, Mapping[str, Any]]) -> Fingerprint:
    return {name: TableFingerprint(int(t["rows"]), str(t["checksum"])) for name, t in data.items()}


# -- making a backup ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalBackup:
    path: Path
    suffix: str  # "dump" (pg_dump custom format) or "sqlite"
    tables: Fingerprint


def make_backup(url: URL, workdir: Path, *, progress: StepProgress | None = None) -> LocalBackup:
    """Dump the database at ``url`` into ``workdir`` with the fingerprint of the same snapshot;
    ``progress`` counts the tables fingerprinted."""
    backend = url.get_backend_name()
    if backend == "postgresql":
        return _pg_backup(url, workdir / "warehouse.dump", progress)
    if backend == "sqlite":
        return _sqlite_backup(url, workdir / "warehouse.sqlite", progress)
    raise BackupFailed(f"no backup method for the {backend} backend")


def _pg_backup(url: URL, out: Path, progress: StepProgress | None = None) -> LocalBackup:
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            _run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges"]
                + [f"--snapshot={snapshot}", "--file", str(out)],
                url,
            )
            tables = fingerprint(connection, progress=progress, what=SOURCE_TABLES)
            connection.rollback()
    finally:
        engine.dispose()
    return LocalBackup(out, "dump", tables)


SOURCE_TABLES = "checksumming the source's tables"


def _sqlite_backup(url: URL, out: Path, progress: StepProgress | None = None) -> LocalBackup:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            # One read transaction: the fingerprint and the page copy see the same database.
            tables = fingerprint(connection, progress=progress, what=SOURCE_TABLES)
            raw = connection.connection.dbapi_connection
            target = sqlite3.connect(out)
            try:
                raw.backup(target)  # type: ignore[union-attr]
            finally:
                target.close()
            connection.rollback()
    finally:
        engine.dispose()
    return LocalBackup(out, "sqlite", tables)


# -- storing and reading back ---------------------------------------------------------------------
def upload(
    local: Path,
    destination: Any,
    *,
    progress: StepProgress | None = None,
    what: str = "uploading the backup",
) -> tuple[int, str]:
    """Copy ``local`` to ``destination``; returns its size and SHA-256. ``progress`` counts
    the MiB sent."""
    digest = hashlib.sha256()
    size = 0
    step = progress(what, mebibytes(local.stat().st_size), "MiB") if progress else None
    with local.open("rb") as source, destination.open("wb") as sink:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            sink.write(chunk)
            if step:
                step.advance()
    if step:
        step.finish()
    return size, digest.hexdigest()


def download(
    source: Any,
    local: Path,
    *,
    progress: StepProgress | None = None,
    what: str = "downloading the backup",
    size: int | None = None,
) -> str:
    """Copy a stored backup to ``local``; returns the SHA-256 of what was read. ``progress``
    counts the MiB read, of ``size`` bytes when it is known."""
    digest = hashlib.sha256()
    step = progress(what, None if size is None else mebibytes(size), "MiB") if progress else None
    with source.open("rb") as stream, local.open("wb") as sink:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            sink.write(chunk)
            if step:
                step.advance()
    if step:
        step.finish()
    return digest.hexdigest()


def mebibytes(size: int) -> int:
    """How many :data:`CHUNK` reads ``size`` bytes take: the MiB a progress line counts."""
    return -(-size // CHUNK)


# -- verifying by restoring -----------------------------------------------------------------------
def verify(
    stored: Any,
    *,
    suffix: str,
    sha256: str,
    expected: Fingerprint,
    url: URL,
    progress: StepProgress | None = None,
    size: int | None = None,
) -> Fingerprint:
    """Download ``stored``, restore it into a scratch database, and compare with ``expected``.

    ``url`` is the source database: the scratch database is created next to it (PostgreSQL,
    which needs the CREATEDB privilege) or in a temporary folder (SQLite), and dropped after.
    Raises :class:`BackupFailed` naming every table that differs. ``progress`` counts the MiB
    downloaded (of ``size`` bytes) and the restored tables fingerprinted.
    """
    with tempfile.TemporaryDirectory(prefix="verify-backup-") as workdir:
        local = Path(workdir) / f"restore.{suffix}"
        got = download(
            stored, local, progress=progress, what="downloading it back to verify", size=size
        )
        if got != sha256:
            raise BackupFailed(
                f"stored object's SHA-256 {got[:12]} is not the uploaded {sha256[:12]}"
            )
        try:
            with restored_database(local, suffix=suffix, next_to=url) as scratch:
                engine = create_engine(scratch)
                try:
                    with engine.connect() as connection:
                        restored = fingerprint(
                            connection, progress=progress, what="checksumming the restored tables"
                        )
                finally:
                    engine.dispose()
        except BackupFailed:
            raise
        except Exception as error:  # a corrupt file fails in the driver: say so, by name
            raise BackupFailed(f"restore failed: {type(error).__name__}: {error}") from error
    problems = differences(expected, restored)
    if problems:
        raise BackupFailed("restore differs from the source: " + "; ".join(problems))
    return restored


@contextmanager
def restored_database(local: Path, *, suffix: str, next_to: URL) -> Iterator[URL]:
    """A scratch database restored from ``local``, dropped when the block ends."""
    if suffix == "sqlite":
        with tempfile.TemporaryDirectory(prefix="scratch-") as folder:
            copy = Path(folder) / "restored.db"
            shutil.copyfile(local, copy)
            with sqlite3.connect(copy) as check:
                status = check.execute("PRAGMA integrity_check").fetchone()[0]
            if status != "ok":
                raise BackupFailed(f"SQLite integrity check: {status}")
            yield URL.create("sqlite", database=str(copy))
        return
    name = f"backup_verify_{uuid.uuid4().hex[:12]}"
    admin = create_engine(next_to.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            scratch = next_to.set(database=name)
            restore_into(local, suffix=suffix, url=scratch)
            yield scratch
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def restore_into(local: Path, *, suffix: str, url: URL) -> None:
    """Restore a backup file into the (empty) database at ``url``."""
    if suffix == "sqlite":
        if not url.database:
            raise BackupFailed("restore target has no database path")
        shutil.copyfile(local, url.database)
        return
    _run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", str(local)],
        url,
    )


def _run(command: list[str], url: URL) -> None:
    """Run a PostgreSQL client; the password goes through the environment, never the argv."""
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = [
        *command,
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 5432}",
        f"--username={url.username or 'postgres'}",
        f"--dbname={url.database}",
    ]
    completed = subprocess.run(args, env=env, capture_output=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()
        raise BackupFailed(f"{command[0]} failed: {stderr[-500:]}")


# -- retention -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredBackup:
    backup_date: date
    status: str  # verified | failed | deleted


def to_delete(backups: list[StoredBackup], *, daily: int, weekly: int, monthly: int) -> list[date]:
    """Backups the policy no longer keeps.

    Kept: the newest ``daily`` verified backups, the newest verified backup of each of the
    newest ``weekly`` ISO weeks and ``monthly`` months that have one, and always the newest
    verified backup. A failed backup never counts; it goes once a newer backup is verified.
    """
    verified = sorted((b.backup_date for b in backups if b.status == "verified"), reverse=True)
    keep: set[date] = set(verified[: max(daily, 1)])
    for key, count in (
        (lambda d: d.isocalendar()[:2], weekly),
        (lambda d: (d.year, d.month), monthly),
    ):
        seen: list[Any] = []
        for day in verified:
            period = key(day)
            if period not in seen:
                if len(seen) == count:
                    break
                seen.append(period)
                keep.add(day)
    newest_verified = verified[0] if verified else None
    doomed = [day for day in verified if day not in keep]
    doomed += [
        b.backup_date
        for b in backups
        if b.status == "failed" and newest_verified is not None and b.backup_date < newest_verified
    ]
    return sorted(doomed)


def shrinkage_pct(previous_rows: int | None, rows: int) -> float | None:
    """How much smaller (in percent of rows) this backup is than the previous verified one."""
    if not previous_rows:
        return None
    return 100.0 * (previous_rows - rows) / previous_rows
