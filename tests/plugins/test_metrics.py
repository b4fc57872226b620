"""Metrics: Airflow's own and ours arrive at a real UDP statsd socket from a real task run."""

from __future__ import annotations

import secrets

from sqlalchemy import create_engine, select

from spotify_agent.core.metrics import StatsdTarget, metric_lines, send_lines
from spotify_agent.warehouse.schema import audit_log
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.receivers import run_statsd_receiver
from tests.statsd_mapping import assert_every_line_maps


def test_counts_become_tagged_lines_whose_kind_follows_the_name() -> None:
    lines = metric_lines(
        "backup_verified",
        {"rows": 40, "size_bytes": 8192, "spotify_p95_ms": 120, "shrink_pct": 1.5, "ok": True},
        {"dag": "backup", "task": "back_up_warehouse"},
    )
    tags = "|#dag:backup,task:back_up_warehouse"
    assert lines == [
        "spotify_agent.backup_verified.rows:40|c" + tags,
        "spotify_agent.backup_verified.shrink_pct:1.5|g" + tags,
        "spotify_agent.backup_verified.size_bytes:8192|g" + tags,
        "spotify_agent.backup_verified.spotify_p95_ms:120|ms" + tags,
    ]
    # Delimiters of the line format cannot leak in from a tag value.
    (line,) = metric_lines("a", {"n": 1}, {"task": "x|y:z#,w"})
    assert line == "spotify_agent.a.n:1|c|#task:x_y_z__w"
    # A count named table.column (erasure) stays one name component: the mapping's
    # spotify_agent.<action>.<count> rules see three components, never four.
    (line,) = metric_lines("user_erased", {"agg_listeners.user_id": 3}, {})
    assert line == "spotify_agent.user_erased.agg_listeners_user_id:3|c"


def test_many_lines_are_packed_into_datagrams_a_statsd_server_splits() -> None:
    with run_statsd_receiver() as statsd:
        lines = [f"spotify_agent.x.n{i}:1|c" for i in range(300)]
        datagrams = send_lines(StatsdTarget("127.0.0.1", statsd.port), lines)
        assert datagrams > 1
        import time

        deadline = time.monotonic() + 5
        while len(statsd.lines) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert statsd.lines == lines


def _audited_trace_ids(airflow_home, dag_id: str) -> set[str]:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.trace_id).where(
                audit_log.c.dag_id == dag_id, audit_log.c.action == "task_attempt"
            )
        ).all()
    engine.dispose()
    return {row[0] for row in rows}


def test_a_task_run_sends_airflows_metrics_and_ours_without_the_trace_id(
    airflow_home, tmp_path
) -> None:
    trace_id = secrets.token_hex(16)
    with run_statsd_receiver() as statsd:
        result = airflow_home.dags_test(
            "health_check",
            {"components": ["disk_space"], "trace_id": trace_id},
            extra_env=statsd.env(),
        )
        assert result.returncode == 0, result.stdout[-3000:]
    # Airflow's own, from the task process.
    assert statsd.starting_with("airflow.ti.finish"), statsd.lines[:20]
    assert statsd.starting_with("airflow.task.duration")
    # Ours, after the audit row committed, tagged with the DAG and task only: a tag per run
    # would be a Prometheus series per run.
    ours = statsd.starting_with("spotify_agent.health_recorded.")
    assert sorted(line.split(":")[0] for line in ours) == [
        "spotify_agent.health_recorded.components_down",
        "spotify_agent.health_recorded.rows_written",
    ]
    assert all(line.endswith("|#dag:health_check,task:check_components") for line in ours), ours
    # Every attempt: counted with its outcome and timed.
    assert statsd.starting_with(
        "spotify_agent.task_attempt.attempts:1|c|#dag:health_check,task:check_components,outcome:success"
    ), statsd.starting_with("spotify_agent.")
    assert statsd.starting_with("spotify_agent.task_attempt.duration_ms:")
    assert not [line for line in statsd.lines if "trace_id" in line or trace_id in line]
    # The trace id stays where a run is looked up: the attempt's audit row carries it.
    assert trace_id in _audited_trace_ids(airflow_home, "health_check")
    # Through the shipped statsd_exporter mapping every line becomes a Prometheus series, and
    # the dashboard's panels for this run show it.
    series = assert_every_line_maps(statsd.lines)
    assert_queries_return_data(
        panel_queries(
            "Task attempts by DAG and outcome",
            "Task attempt duration, p95",
            "Rows written",
            "Components down (health_check)",
            "variable dag",
        ),
        series,
        tmp_path,
    )


def test_a_failing_run_sends_its_failure_and_outcome_without_the_trace_id(
    airflow_home, tmp_path
) -> None:
    trace_id = secrets.token_hex(16)
    with run_statsd_receiver() as statsd:
        result = airflow_home.dags_test(
            "retry_policy_probe",
            {"mode": "permanent", "trace_id": trace_id},
            fixtures=True,
            extra_env=statsd.env(),
        )
        assert result.returncode != 0, result.stdout[-3000:]
    # Airflow's own failure counters, and ours with the outcome.
    assert statsd.starting_with("airflow.ti.finish.retry_policy_probe.flaky.failed"), statsd.lines
    assert statsd.starting_with(
        "spotify_agent.task_attempt.attempts:1|c|#dag:retry_policy_probe,task:flaky,outcome:failed"
    ), statsd.starting_with("spotify_agent.")
    assert not [line for line in statsd.lines if trace_id in line]
    assert trace_id in _audited_trace_ids(airflow_home, "retry_policy_probe")
    series = assert_every_line_maps(statsd.lines)
    assert_queries_return_data(
        panel_queries("Failed task attempts", "Failed tasks by DAG (Airflow)"), series, tmp_path
    )
