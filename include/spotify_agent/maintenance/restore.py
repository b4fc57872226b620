"""Restore a verified warehouse backup from the object store alone, without resurrecting anyone.

The story: find the backup by its manifest; make sure every key the erasure log refers to is
held (else refuse before touching anything); download the dump and check its SHA-256; restore it
into a new database; check every table against the manifest; replay the whole erasure log in
the copy; only then does the copy take its final name. Any failure removes what was made, so
nothing is left behind that looks like a finished restore.

It needs neither the live warehouse nor Airflow's metadata DB: the object store holds the dumps,
their manifests and the erasure log; the keys come from wherever the deployment keeps
connections. The live warehouse, when it is still there, adds its copy of the log.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL

from spotify_agent.core.errors import PermanentFailure
from spotify_agent.maintenance.backup import differences, download, fingerprint, restore_into
from spotify_agent.maintenance.backup_manifest import BackupManifest, read_manifests
from spotify_agent.maintenance.erasure import (
    LogEntry,
    UnreadableLog,
    log_entries,
    replay_erasures,
)
from spotify_agent.maintenance.erasure_keys import Keyring


class RestoreRefused(RuntimeError):
    """The restore cannot be done safely; nothing was left behind."""


@dataclass(frozen=True)
class RestoreResult:
    backup: BackupManifest
    target: str
    log_entries: int
    logged_after_backup: int
    users_erased_again: int
    rows_erased: dict[str, int]

    def summary(self) -> str:
        stores = ", ".join(f"{name}: {count}" for name, count in self.rows_erased.items() if count)
        return (
            f"restored the {self.backup.backup_date} warehouse backup into {self.target}; every "
            f"table matched its manifest; replayed {self.log_entries} erasures "
            f"({self.logged_after_backup} logged after the backup): "
            f"{self.users_erased_again} erased users found again and erased"
            + (f" ({stores})" if stores else "")
        )


def verified_backups(
    objects: Any, database: str = "warehouse"
) -> tuple[list[BackupManifest], list[str]]:
    """The verified backups the store holds, oldest first, and the manifests it could not read."""
    manifests, unreadable = read_manifests(objects, database)
    return [manifest for manifest in manifests if manifest.verified], unreadable


def choose_backup(objects: Any, day: date | None) -> BackupManifest:
    backups, _ = verified_backups(objects)
    if day is not None:
        backups = [backup for backup in backups if backup.backup_date == day]
    if not backups:
        raise RestoreRefused(
            f"no verified warehouse backup{f' of {day}' if day else ''} under "
            f"{objects}/backups/warehouse (each has a manifest.json beside its dump)"
        )
    return backups[-1]


def restore_warehouse(
    objects: Any,
    *,
    day: date | None,
    target: URL,
    keyring: Keyring,
    at: datetime,
    live: Connection | None = None,
) -> RestoreResult:
    """Restore the newest verified backup (or day ``day``'s) into the new database ``target``.

    ``target`` is a SQLite path that must not exist, or a PostgreSQL database that does not exist
    (created, and dropped again on failure) or has no tables. Raises :class:`RestoreRefused`.
    """
    backup = choose_backup(objects, day)
    try:
        entries = log_entries(objects, live)
        keyring.require(entry.key_id for entry in entries)
    except (PermanentFailure, UnreadableLog) as error:
        raise RestoreRefused(f"cannot replay the erasure log: {error}") from None
    with _new_database(target, backup.suffix) as partial:
        with tempfile.TemporaryDirectory(prefix="restore-") as workdir:
            local = Path(workdir) / f"backup.{backup.suffix}"
            sha256 = download(objects / backup.object_key, local)
            if sha256 != backup.sha256:
                raise RestoreRefused(f"{backup.object_key}: SHA-256 differs from its manifest's")
            restore_into(local, suffix=backup.suffix, url=partial)
        engine = create_engine(partial)
        try:
            with engine.begin() as connection:
                problems = differences(backup.fingerprint(), fingerprint(connection))
                if problems:
                    raise RestoreRefused(
                        "the restored copy differs from its manifest: " + "; ".join(problems)
                    )
                counts = replay_erasures(connection, entries, keyring=keyring, at=at)
        finally:
            engine.dispose()
    users = counts.pop("users")
    return RestoreResult(
        backup=backup,
        target=target.render_as_string(hide_password=True),
        log_entries=len(entries),
        logged_after_backup=_logged_after(backup, entries),
        users_erased_again=users,
        rows_erased=counts,
    )


def _logged_after(backup: BackupManifest, entries: list[LogEntry]) -> int:
    position = backup.erasure_log
    if position is None or position.last_erased_at is None:
        return len(entries)
    last = datetime.fromisoformat(position.last_erased_at)
    return sum(1 for entry in entries if datetime.fromisoformat(entry.erased_at) > last)


class _new_database:  # noqa: N801 - used as a context manager, like contextlib's
    """A new database at ``target`` for the block; removed again unless the block succeeds.

    SQLite: the copy is built as ``<name>.partial`` and renamed at the end. PostgreSQL: the
    database is created (or must have no tables) and dropped (or emptied) on failure.
    """

    def __init__(self, target: URL, suffix: str) -> None:
        self.target, self.suffix = target, suffix
        self.created = False

    def __enter__(self) -> URL:
        if self.suffix == "sqlite":
            if not self.target.database:
                raise RestoreRefused("--into: a SQLite URL needs a file path")
            final = Path(self.target.database)
            if final.exists():
                raise RestoreRefused(f"{final} exists: remove it or restore elsewhere (--into)")
            final.parent.mkdir(parents=True, exist_ok=True)
            self.partial = final.with_name(final.name + ".partial")
            self.partial.unlink(missing_ok=True)
            return self.target.set(database=str(self.partial))
        self._create_postgres()
        return self.target

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self.suffix == "sqlite":
            if kind is None:
                shutil.move(self.partial, self.target.database or "")
            else:
                self.partial.unlink(missing_ok=True)
            return
        if kind is not None:
            self._remove_postgres()

    def _admin(self) -> Any:
        return create_engine(self.target.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def _create_postgres(self) -> None:
        admin = self._admin()
        try:
            with admin.connect() as connection:
                exists = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": self.target.database},
                ).scalar()
                if not exists:
                    connection.execute(text(f'CREATE DATABASE "{self.target.database}"'))
                    self.created = True
        finally:
            admin.dispose()
        if not self.created:
            engine = create_engine(self.target)
            try:
                with engine.connect() as connection:
                    tables = inspect(connection).get_table_names()
            finally:
                engine.dispose()
            if tables:
                raise RestoreRefused(
                    f"{self.target.database} already holds {len(tables)} tables: restore into a "
                    "new or empty database"
                )

    def _remove_postgres(self) -> None:
        if self.created:
            admin = self._admin()
            try:
                with admin.connect() as connection:
                    connection.execute(
                        text(f'DROP DATABASE IF EXISTS "{self.target.database}" WITH (FORCE)')
                    )
            finally:
                admin.dispose()
            return
        engine = create_engine(self.target)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()
