"""Log rotation on a real folder of logs, archived to a local store and to the S3 API server."""

from __future__ import annotations

import gzip
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from upath import UPath

from spotify_agent.maintenance.logs import rotate_logs

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _log(root: Path, name: str, days_old: float, size: int = 20_000) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("task log line\n" * (size // 14 + 1))[:size])
    stamp = (NOW - timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _logs(root: Path) -> dict[str, float]:
    return {
        "dag_id=a/run_id=r1/task_id=t/attempt=1.log": 20,  # past retention
        "dag_id=a/run_id=r2/task_id=t/attempt=1.log": 5,  # to compress
        "dag_id=a/run_id=r3/task_id=t/attempt=1.log": 1,  # too recent
    }


@pytest.mark.parametrize("where", ["local", "s3"])
def test_old_logs_are_archived_and_freed_and_a_second_run_does_nothing(
    tmp_path, s3_server, where
) -> None:
    root = tmp_path / "logs"
    for name, days in _logs(root).items():
        _log(root, name, days)
    if where == "local":
        store = tmp_path / "store"
    else:
        store = UPath(
            f"s3://{s3_server.bucket}/logs-{secrets.token_hex(4)}",
            key="testing",
            secret="testing",  # pragma: allowlist secret
            client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
        )

    report = rotate_logs(
        root, store, now=NOW, compress_after=timedelta(days=3), delete_after=timedelta(days=14)
    )
    assert (report.compressed, report.uploaded, report.deleted_local, report.problems) == (
        2,
        2,
        1,
        [],
    )
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.*")) == [
        "dag_id=a/run_id=r2/task_id=t/attempt=1.log.gz",
        "dag_id=a/run_id=r3/task_id=t/attempt=1.log",
    ]
    assert report.bytes_freed > 20_000 + 20_000 * 0.9  # the deleted archive + compression
    for run in ("r1", "r2"):
        stored = store / f"dag_id=a/run_id={run}/task_id=t/attempt=1.log.gz"
        assert gzip.decompress(stored.read_bytes()).startswith(b"task log line\n")

    again = rotate_logs(
        root, store, now=NOW, compress_after=timedelta(days=3), delete_after=timedelta(days=14)
    )
    assert again.counts() == {
        "compressed": 0,
        "uploaded": 0,
        "deleted_local": 0,
        "bytes_freed": 0,
        "problems": 0,
    }


def test_a_run_that_stopped_after_compressing_finishes_the_job(tmp_path) -> None:
    root, store = tmp_path / "logs", tmp_path / "store"
    log = _log(root, "dag_id=a/run_id=r/task_id=t/attempt=1.log", 5)
    rotate_logs(
        root, store, now=NOW, compress_after=timedelta(days=3), delete_after=timedelta(days=14)
    )
    # Simulate the crash: the log is back beside its archive, the stored copy is gone.
    _log(root, "dag_id=a/run_id=r/task_id=t/attempt=1.log", 5)
    (store / "dag_id=a/run_id=r/task_id=t/attempt=1.log.gz").unlink()
    report = rotate_logs(
        root, store, now=NOW, compress_after=timedelta(days=3), delete_after=timedelta(days=14)
    )
    assert (report.uploaded, report.problems) == (1, [])
    assert not log.exists()
    assert (store / "dag_id=a/run_id=r/task_id=t/attempt=1.log.gz").exists()


def test_retention_shorter_than_compression_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="only after they are compressed"):
        rotate_logs(
            tmp_path,
            tmp_path,
            now=NOW,
            compress_after=timedelta(days=5),
            delete_after=timedelta(days=1),
        )
