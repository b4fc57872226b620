"""The shared retry policy, proven on real task runs (`airflow dags test`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
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
        # The probe's 10-minute delay at full length (the suite shortens retry delays).
        extra_env={
            "AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURES),
            "AIRFLOW__SPOTIFY_AGENT__RETRY_DELAY_SCALE": "1",
        },
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


def test_the_retry_delay_scale_shortens_delays_and_keeps_the_attempts(monkeypatch) -> None:
    from datetime import timedelta

    from spotify_agent_airflow.defaults import default_args

    monkeypatch.setenv("AIRFLOW__SPOTIFY_AGENT__RETRY_DELAY_SCALE", "0.01")
    args = default_args(retry_delay=timedelta(seconds=15))
    assert (args["retries"], args["retry_delay"]) == (3, timedelta(seconds=0.15))
    assert args["max_retry_delay"] == timedelta(seconds=18)
    monkeypatch.setenv("AIRFLOW__SPOTIFY_AGENT__RETRY_DELAY_SCALE", "0")
    with pytest.raises(ValueError, match="retry_delay_scale"):
        default_args()
