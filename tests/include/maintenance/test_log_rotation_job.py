"""The log_rotation job's task logs without Airflow, on each warehouse backend: old logs archived
under ``logs/airflow`` in the object store and audited for the attempt, a re-run doing nothing
and replacing its audit, a log that cannot be archived named in a partial outcome, and a
retention shorter than the compression refused naming the field."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.numbers import size_text
from spotify_agent.maintenance.confs import LogRotationConf
from spotify_agent.maintenance.log_rotation import rotate_task_logs
from spotify_agent.warehouse.schema import audit_log

ATTEMPT = Attempt("log_rotation", "manual__job-test", "ef" * 16, task_id="rotate", try_number=1)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
OLD = "dag_id=a/run_id=r1/task_id=t/attempt=1.log"
RECENT = "dag_id=a/run_id=r2/task_id=t/attempt=1.log"


def _log(root: Path, name: str, days_old: float) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("task log line\n" * 2000)
    stamp = (NOW - timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _audits(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
        return [dict(row) for row in rows]


def test_old_logs_are_archived_and_audited_and_a_re_run_does_nothing(warehouse, tmp_path) -> None:
    root, objects = tmp_path / "logs", tmp_path / "objects"
    _log(root, OLD, days_old=5)
    _log(root, RECENT, days_old=1)

    rotated = rotate_task_logs(warehouse, root, objects, LogRotationConf(), ATTEMPT, now=NOW)

    stored = objects / "logs" / "airflow" / (OLD + ".gz")
    assert gzip.decompress(stored.read_bytes()).startswith(b"task log line\n")
    assert not (root / OLD).exists() and (root / RECENT).exists()
    assert (rotated.counts["compressed"], rotated.counts["uploaded"]) == (1, 1)
    assert rotated.problems == ()
    assert rotated.counts["bytes_freed"] > 0
    (audit,) = _audits(warehouse)
    assert (audit["action"], audit["outcome"], audit["entity_key"], audit["detail"]) == (
        "logs_rotated",
        "done",
        str(root),
        None,
    )
    assert (audit["task_id"], audit["try_number"], audit["trace_id"]) == ("rotate", 1, "ef" * 16)
    assert audit["counts"] == rotated.counts
    assert rotated.summary_line() == (
        f"log rotation under {root}: 1 logs compressed, 1 uploaded, "
        f"{rotated.counts['deleted_local']} deleted locally, "
        f"{size_text(rotated.counts['bytes_freed'])} freed"
    )

    again = rotate_task_logs(warehouse, root, objects, LogRotationConf(), ATTEMPT, now=NOW)

    assert again.counts == dict.fromkeys(rotated.counts, 0)
    (audit,) = _audits(warehouse)  # the same attempt's action, replaced
    assert audit["counts"] == again.counts


def test_a_log_that_cannot_be_archived_is_named_in_a_partial_outcome(warehouse, tmp_path) -> None:
    root, objects = tmp_path / "logs", tmp_path / "objects"
    _log(root, OLD, days_old=5)
    objects.mkdir()
    (objects / "logs").write_text("a file where the archive folder should be")

    rotated = rotate_task_logs(warehouse, root, objects, LogRotationConf(), ATTEMPT, now=NOW)

    assert len(rotated.problems) == 1 and rotated.problems[0].startswith(OLD)
    assert rotated.counts["problems"] == 1
    (audit,) = _audits(warehouse)
    assert audit["outcome"] == "partial"
    assert audit["detail"].startswith(OLD)
    assert (root / OLD).exists()  # kept until the object store holds its archive


def test_local_retention_shorter_than_compression_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="keep_local_days"):
        LogRotationConf(compress_after_days=7, keep_local_days=3)
