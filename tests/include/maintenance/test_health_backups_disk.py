"""Backup freshness and disk space, the health checks the backup family added."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from spotify_agent.maintenance.backup import TableFingerprint
from spotify_agent.maintenance.backup_store import BackupRecord, record_backup
from spotify_agent.maintenance.health import check_backups, check_disk_space

NOW = datetime(2026, 11, 26, 8, tzinfo=UTC)


def _record(warehouse, day: date, status: str, at: datetime) -> None:
    tables = {"watched_artists": TableFingerprint(3, "0" * 64)}
    with warehouse.begin() as connection:
        record_backup(
            connection,
            BackupRecord("warehouse", day, f"backups/{day}", 10, "0" * 64, tables, status),
            run_id="r",
            trace_id="0" * 31 + "1",
            at=at,
        )


def test_backup_freshness_from_none_to_stale(warehouse, database_url) -> None:
    assert check_backups(database_url, now=NOW).status == "off"

    _record(warehouse, date(2026, 11, 20), "failed", NOW - timedelta(hours=1))
    failed_only = check_backups(database_url, now=NOW)
    assert (failed_only.status, failed_only.detail) == ("down", "no backup has ever been verified")

    _record(warehouse, date(2026, 11, 24), "verified", NOW - timedelta(hours=30))
    stale = check_backups(database_url, now=NOW)
    assert stale.status == "down"
    assert stale.detail == "newest verified backup 2026-11-24, 30.0 h old (limit 26 h)"

    _record(warehouse, date(2026, 11, 25), "verified", NOW - timedelta(hours=7))
    fresh = check_backups(database_url, now=NOW)
    assert (fresh.status, fresh.detail) == ("up", "newest verified backup 2026-11-25, 7.0 h old")


def test_disk_space_is_down_below_the_free_share(tmp_path) -> None:
    assert check_disk_space({"tmp": tmp_path}, min_free_pct=0).status == "up"
    full = check_disk_space({"tmp": tmp_path}, min_free_pct=100)
    assert full.status == "down" and full.detail.startswith("below 100% free: tmp ")
