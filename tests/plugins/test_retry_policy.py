"""The shared retry policy, proven on real task runs (`airflow dags test`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import audit_log

FIXTURES = Path(__file__).resolve().parents[1] / "dags" / "fixtures"


def _attempts(airflow_home, trace_id: str) -> list[tuple[int, str]]:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.try_number, audit_log.c.outcome)
            .where(audit_log.c.trace_id == trace_id, audit_log.c.action == "task_attempt")
            .order_by(audit_log.c.try_number)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def _run(airflow_home, conf: dict[str, str]):
    return airflow_home.airflow(
        "dags",
        "test",
        "retry_policy_probe",
        "--conf",
        json.dumps(conf),
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURES)},
    )


def test_retry_later_retries_after_the_asked_wait_not_the_tasks_delay(airflow_home) -> None:
    trace_id = "1" * 32
    started = time.monotonic()
    result = _run(airflow_home, {"trace_id": trace_id})
    assert result.returncode == 0, result.stdout[-3000:]
    assert time.monotonic() - started < 120, "the 10-minute default delay was used"
    assert _attempts(airflow_home, trace_id) == [(1, "up_for_retry"), (2, "success")]
    assert "HTTP 429 from the API" in result.stdout


def test_permanent_failure_fails_at_once_despite_retries_left(airflow_home) -> None:
    trace_id = "2" * 32
    result = _run(airflow_home, {"trace_id": trace_id, "mode": "permanent"})
    assert result.returncode != 0
    assert _attempts(airflow_home, trace_id) == [(1, "failed")]
    assert "invalid_client: the Spotify secret was revoked" in result.stdout
