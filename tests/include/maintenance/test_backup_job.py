"""The backup job without Airflow, on each warehouse backend: a day's backup is stored, proven by a
restore, recorded beside its manifest and audited for the attempt, and a re-run replaces it; an
empty or shrunken warehouse fails at once after its backup is recorded; retention deletes what
the policy no longer keeps, dump and manifest, and a second pass deletes nothing."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url
from upath import UPath

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.numbers import size_text
from spotify_agent.maintenance.backup import mebibytes
from spotify_agent.maintenance.backup_job import (
    SuspectBackup,
    apply_backup_retention,
    back_up_database,
)
from spotify_agent.maintenance.backup_manifest import manifest_key
from spotify_agent.maintenance.confs import BackupConf
from spotify_agent.warehouse.schema import audit_log, backups, listening_events
from tests.include.maintenance.test_backup import NOW, _fill, _store

ATTEMPT = Attempt("backup", "scheduled__backup-job", "bc" * 16, task_id="back_up", try_number=1)
DAY = date(2026, 11, 25)


def _back_up(warehouse, database_url: str, objects, day: date = DAY, every_s=30.0, **conf):
    return back_up_database(
        warehouse,
        make_url(database_url),
        objects,
        database="warehouse",
        day=day,
        conf=BackupConf(**conf),
        attempt=ATTEMPT,
        now=NOW,
        every_s=every_s,
    )


def _suffix(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "dump"


def _recorded(warehouse) -> list[tuple[date, str]]:
    with warehouse.connect() as connection:
        query = select(backups.c.backup_date, backups.c.status).order_by(backups.c.backup_date)
        return [(day, status) for day, status in connection.execute(query)]


def _audits(warehouse, prefix: str) -> list[dict]:
    with warehouse.connect() as connection:
        rows = connection.execute(
            select(audit_log).where(audit_log.c.action.like(f"{prefix}%"))
        ).mappings()
        return [dict(row) for row in rows]


def test_a_backup_is_stored_verified_recorded_and_audited_for_the_attempt(
    warehouse, database_url, s3_server
) -> None:
    _fill(warehouse)
    objects = _store(s3_server, "job")

    outcome = _back_up(warehouse, database_url, objects)

    key = f"backups/warehouse/{DAY}/warehouse.{_suffix(database_url)}"
    result = outcome.as_result()
    assert result["object_key"] == key and result["rows"] == 530
    assert (objects / key).stat().st_size == result["size_bytes"] > 0
    manifest = json.loads((objects / manifest_key("warehouse", DAY)).read_text())
    assert (
        manifest["status"] == "verified" and manifest["tables"]["listening_events"]["rows"] == 500
    )
    assert _recorded(warehouse) == [(DAY, "verified")]
    (audit,) = _audits(warehouse, "backup_")
    assert (audit["action"], audit["entity_key"], audit["detail"]) == (
        "backup_verified",
        f"warehouse:{DAY}",
        key,
    )
    assert audit["counts"] == {k: v for k, v in result.items() if k != "object_key"}
    assert (audit["run_id"], audit["trace_id"]) == (ATTEMPT.run_id, ATTEMPT.trace_id)

    again = _back_up(warehouse, database_url, objects)

    assert again.as_result()["object_key"] == key
    assert _recorded(warehouse) == [(DAY, "verified")]


def test_each_step_of_a_backup_logs_its_progress_and_the_run_one_line(
    warehouse, database_url, tmp_path: Path, caplog
) -> None:
    objects = UPath(str(tmp_path / "objects"))
    _fill(warehouse)
    caplog.set_level(logging.INFO, logger="spotify_agent.maintenance.backup_job")

    outcome = _back_up(warehouse, database_url, objects, every_s=0)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("warehouse")]
    key, record = outcome.record.object_key, outcome.record
    tables, mib = len(record.tables), mebibytes(record.size_bytes)
    starts = [line for line in lines if line.endswith(("tables", "MiB")) and "starting" in line]
    assert starts == [
        f"warehouse backup: checksumming the source's tables: starting, {tables} tables",
        f"warehouse backup: uploading {key}: starting, {mib} MiB",
        f"warehouse backup: downloading it back to verify: starting, {mib} MiB",
        f"warehouse backup: checksumming the restored tables: starting, {tables} tables",
    ]
    assert f"warehouse backup: checksumming the source's tables: 1 of {tables} tables (" in (
        "\n".join(lines)
    )
    assert any(line.startswith(f"warehouse backup: uploading {key}: done, {mib} MiB in ")
               for line in lines)  # fmt: skip
    assert outcome.summary_line() == (
        f"warehouse backup of {DAY} verified: {size_text(record.size_bytes)}, 530 rows of data "
        f"in {tables} tables ({key})"
    )


def test_an_empty_warehouse_fails_at_once_after_its_backup_is_recorded(
    warehouse, database_url, tmp_path: Path
) -> None:
    objects = UPath(str(tmp_path / "objects"))

    with pytest.raises(SuspectBackup, match="is empty: the warehouse holds no rows") as refused:
        _back_up(warehouse, database_url, objects)

    assert isinstance(refused.value, PermanentFailure)  # the retry policy fails it at once
    assert _recorded(warehouse) == [(DAY, "verified")]
    assert [audit["action"] for audit in _audits(warehouse, "backup_")] == ["backup_verified"]


def test_a_warehouse_that_lost_most_rows_fails_at_once(
    warehouse, database_url, tmp_path: Path
) -> None:
    objects = UPath(str(tmp_path / "objects"))
    _fill(warehouse)
    _back_up(warehouse, database_url, objects)
    with warehouse.begin() as connection:
        connection.execute(delete(listening_events))

    with pytest.raises(SuspectBackup, match="fewer than the previous verified backup's 530"):
        _back_up(warehouse, database_url, objects, DAY + timedelta(days=1), max_shrink_pct=10)

    # Stored and verified all the same: it is the data that is wrong, not the backup.
    assert _recorded(warehouse) == [(DAY, "verified"), (DAY + timedelta(days=1), "verified")]


def test_retention_deletes_what_the_policy_no_longer_keeps_and_only_once(
    warehouse, database_url, tmp_path: Path
) -> None:
    objects = UPath(str(tmp_path / "objects"))
    _fill(warehouse)
    days = [DAY - timedelta(days=n) for n in (2, 1, 0)]  # one week, one month
    for day in days:
        _back_up(warehouse, database_url, objects, day)
    conf = BackupConf(keep_daily=1, keep_weekly=1, keep_monthly=1)

    retention = apply_backup_retention(
        warehouse, objects, ("warehouse", "airflow_metadata"), conf, ATTEMPT, now=NOW
    )

    assert retention.as_result() == {"kept": 1, "deleted": 2}
    assert retention.summary_line() == (
        f"warehouse retention: 1 backups kept, 2 deleted ({days[0]}, {days[1]}); "
        "airflow_metadata retention: 0 backups kept, 0 deleted"
    )
    assert [(each.database, each.deleted) for each in retention.databases] == [
        ("warehouse", tuple(days[:2])),
        ("airflow_metadata", ()),
    ]
    assert _recorded(warehouse) == [(days[0], "deleted"), (days[1], "deleted"), (DAY, "verified")]
    for day in days[:2]:
        assert not (objects / manifest_key("warehouse", day)).exists()
        assert not (objects / f"backups/warehouse/{day}/warehouse.{_suffix(database_url)}").exists()
    assert (objects / manifest_key("warehouse", DAY)).exists()
    (audit,) = _audits(warehouse, "backups_deleted")
    assert audit["counts"] == {"backups": 2}
    assert audit["detail"] == ", ".join(day.isoformat() for day in days[:2])

    again = apply_backup_retention(warehouse, objects, ("warehouse",), conf, ATTEMPT, now=NOW)

    assert again.as_result() == {"kept": 1, "deleted": 0}
    assert len(_audits(warehouse, "backups_deleted")) == 1
