"""log_rotation end to end with `airflow dags test`: real log files, the real metadata DB."""

from __future__ import annotations

import gzip
import json
import os
import time

from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import audit_log


def _old_log(airflow_home, days: float) -> str:
    relative = "dag_id=old_dag/run_id=manual__old/task_id=t/attempt=1.log"
    path = airflow_home.path / "logs" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("an old task log line\n" * 2000)
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return relative


def test_old_task_logs_are_archived_and_metadata_cleanup_runs(airflow_home) -> None:
    relative = _old_log(airflow_home, days=5)
    result = airflow_home.airflow(
        "dags",
        "test",
        "log_rotation",
        "2026-03-01",
        "--conf",
        json.dumps({"dry_run": True}),
        extra_env=airflow_home.metadata_db_env(),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert not (airflow_home.path / "logs" / relative).exists()
    assert (airflow_home.path / "logs" / (relative + ".gz")).exists()
    stored = airflow_home.objects_path / "logs" / "airflow" / (relative + ".gz")
    assert gzip.decompress(stored.read_bytes()).startswith(b"an old task log line\n")
    assert "db clean:" in result.stdout

    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        counts = connection.execute(
            select(audit_log.c.counts)
            .where(audit_log.c.action == "logs_rotated")
            .order_by(audit_log.c.id.desc())
        ).scalar()
    engine.dispose()
    assert counts["compressed"] >= 1 and counts["bytes_freed"] > 0


def test_without_a_metadata_connection_the_cleanup_is_skipped_saying_why(airflow_home) -> None:
    result = airflow_home.airflow("dags", "test", "log_rotation", "2026-03-02")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "no airflow_metadata_db connection: Airflow metadata cleanup is off" in result.stdout


def test_bad_conf_is_refused_before_the_run(airflow_home) -> None:
    result = airflow_home.airflow(
        "dags",
        "test",
        "log_rotation",
        "2026-03-03",
        "--conf",
        json.dumps({"compress_after_days": 0}),
    )
    assert result.returncode != 0
    assert "Invalid input for param compress_after_days" in result.stdout + result.stderr
