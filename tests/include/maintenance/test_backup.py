"""Backups of a real warehouse (SQLite and PostgreSQL) stored on the S3 API server, then restored."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.engine import make_url
from upath import UPath

from spotify_agent.maintenance.backup import (
    BackupFailed,
    StoredBackup,
    fingerprint,
    make_backup,
    restore_into,
    shrinkage_pct,
    to_delete,
    total_rows,
    upload,
    verify,
)
from spotify_agent.warehouse.schema import listening_events, watched_artists

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _fill(warehouse) -> None:
    with warehouse.begin() as connection:
        connection.execute(
            insert(watched_artists),
            [
                {"artist_id": f"{n:022d}", "added_at": NOW, "added_by_run": "r", "active": True}
                for n in range(30)
            ],
        )
        connection.execute(
            insert(listening_events),
            [
                {
                    "user_id": f"user-{n % 7}",
                    "played_at": NOW - timedelta(minutes=n),
                    "track_id": f"{n % 11:022d}",
                    "ms_played": n * 1000,
                    "source": "test",
                    "run_id": "r",
                    "ingested_at": NOW,
                }
                for n in range(500)
            ],
        )


def _store(s3_server, name: str) -> UPath:
    return UPath(
        f"s3://{s3_server.bucket}/backups/{secrets.token_hex(4)}/{name}",
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    )


def test_a_stored_backup_restores_into_a_fresh_database_with_every_table_equal(
    warehouse, database_url, s3_server, tmp_path, postgres_server_url
) -> None:
    _fill(warehouse)
    url = make_url(database_url)
    backup = make_backup(url, tmp_path)
    assert total_rows(backup.tables) == 530
    stored = _store(s3_server, f"warehouse.{backup.suffix}")
    size, sha256 = upload(backup.path, stored)
    assert size == backup.path.stat().st_size > 0

    restored = verify(stored, suffix=backup.suffix, sha256=sha256, expected=backup.tables, url=url)
    assert restored == backup.tables

    # The same file restores by hand into a database nobody prepared (what `make restore` does).
    if backup.suffix == "sqlite":
        target = make_url(f"sqlite:///{tmp_path / 'restored.db'}")
    else:
        name = f"restored_{secrets.token_hex(4)}"
        admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        target = make_url(postgres_server_url).set(database=name)
    try:
        restore_into(backup.path, suffix=backup.suffix, url=target)
        engine = create_engine(target)
        with engine.connect() as connection:
            assert fingerprint(connection) == backup.tables
        engine.dispose()
    finally:
        if backup.suffix == "dump":
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_a_changed_stored_object_fails_verification_by_its_checksum(
    warehouse, database_url, s3_server, tmp_path
) -> None:
    _fill(warehouse)
    url = make_url(database_url)
    backup = make_backup(url, tmp_path)
    stored = _store(s3_server, f"warehouse.{backup.suffix}")
    _, sha256 = upload(backup.path, stored)
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(BackupFailed, match="SHA-256 .* is not the uploaded"):
        verify(stored, suffix=backup.suffix, sha256=sha256, expected=backup.tables, url=url)


def test_a_backup_corrupt_before_it_was_stored_fails_the_restore(
    warehouse, database_url, s3_server, tmp_path
) -> None:
    _fill(warehouse)
    url = make_url(database_url)
    backup = make_backup(url, tmp_path)
    data = bytearray(backup.path.read_bytes())
    for offset in range(len(data) // 3, len(data) // 3 + 4096):
        data[offset] ^= 0x5A
    broken = Path(tmp_path / f"broken.{backup.suffix}")
    broken.write_bytes(bytes(data))
    stored = _store(s3_server, broken.name)
    _, sha256 = upload(broken, stored)
    with pytest.raises(BackupFailed, match="restore|integrity|differs"):
        verify(stored, suffix=backup.suffix, sha256=sha256, expected=backup.tables, url=url)


def test_a_restore_that_misses_rows_names_the_table(
    warehouse, database_url, s3_server, tmp_path
) -> None:
    """The comparison itself: a backup taken after rows vanished does not match the source."""
    _fill(warehouse)
    url = make_url(database_url)
    before = make_backup(url, tmp_path)
    with warehouse.begin() as connection:
        connection.execute(delete(watched_artists).where(watched_artists.c.artist_id < f"{5:022d}"))
    after = make_backup(url, tmp_path / "..")
    stored = _store(s3_server, f"warehouse.{after.suffix}")
    _, sha256 = upload(after.path, stored)
    with pytest.raises(BackupFailed, match="watched_artists: 25 rows restored, 30 in the source"):
        verify(stored, suffix=after.suffix, sha256=sha256, expected=before.tables, url=url)


def _daily(start: date, days: int, *, failed: set[date] = frozenset()) -> list[StoredBackup]:
    return [
        StoredBackup(
            start + timedelta(days=n),
            "failed" if start + timedelta(days=n) in failed else "verified",
        )
        for n in range(days)
    ]


def test_retention_keeps_days_weeks_and_months() -> None:
    backups = _daily(date(2026, 8, 1), 117)  # 1 Aug .. 25 Nov
    doomed = set(to_delete(backups, daily=7, weekly=4, monthly=3))
    kept = {b.backup_date for b in backups} - doomed
    newest = date(2026, 11, 25)
    assert {newest - timedelta(days=n) for n in range(7)} <= kept
    # Newest of each of the last 4 ISO weeks, and of each of the last 3 months.
    assert {date(2026, 11, 22), date(2026, 11, 15), date(2026, 11, 8)} <= kept
    assert {date(2026, 10, 31), date(2026, 9, 30)} <= kept
    # 19-25 Nov; the weeks add 15 and 8 Nov (22 Nov is a daily one); the months 31 Oct, 30 Sep.
    assert kept == {newest - timedelta(days=n) for n in range(7)} | {
        date(2026, 11, 15),
        date(2026, 11, 8),
        date(2026, 10, 31),
        date(2026, 9, 30),
    }


def test_retention_never_counts_or_keeps_old_failed_backups_and_never_drops_the_last_good() -> None:
    start = date(2026, 11, 1)
    backups = _daily(start, 10, failed={date(2026, 11, 4), date(2026, 11, 10)})
    doomed = to_delete(backups, daily=3, weekly=0, monthly=0)
    assert date(2026, 11, 4) in doomed  # failed, and a newer backup is verified
    assert (
        date(2026, 11, 10) not in doomed
    )  # failed, but nothing newer is verified: kept to inspect
    assert [
        d for d in (date(2026, 11, 9), date(2026, 11, 8), date(2026, 11, 7)) if d in doomed
    ] == []
    only_failures_after = _daily(start, 1) + [
        StoredBackup(start + timedelta(days=n), "failed") for n in range(1, 5)
    ]
    assert start not in to_delete(only_failures_after, daily=1, weekly=0, monthly=0)


def test_shrinkage_is_measured_against_the_previous_verified_backup() -> None:
    assert shrinkage_pct(None, 10) is None
    assert shrinkage_pct(1000, 700) == pytest.approx(30.0)
    assert shrinkage_pct(1000, 1200) == pytest.approx(-20.0)
