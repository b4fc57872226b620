"""Structured logs: with `[logging] json_logs`, every line of a task is one JSON object naming
the trace id, DAG, task, run and try."""

from __future__ import annotations

import json
import secrets


def test_task_log_lines_are_json_with_trace_dag_task_and_run(airflow_home) -> None:
    trace_id = secrets.token_hex(16)
    result = airflow_home.airflow(
        "dags",
        "test",
        "health_check",
        "--conf",
        json.dumps({"components": ["disk_space"], "trace_id": trace_id}),
        extra_env={"AIRFLOW__LOGGING__JSON_LOGS": "True"},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    records = []
    for line in result.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    ours = [r for r in records if r.get("logger") == "spotify_agent_airflow.operators.health"]
    assert ours, result.stdout[-2000:]
    for record in ours:
        assert record["trace_id"] == trace_id
        assert (record["dag_id"], record["task_id"]) == ("health_check", "check_components")
        assert record["run_id"].startswith("manual__") and record["try_number"] == 1
        assert {"timestamp", "level", "event"} <= set(record)
