"""Runs started by a real scheduler (LocalExecutor) through the API server, as in `make up`.

Task processes under a scheduler differ from `airflow dags test`: Airflow 3 blocks their access
to the metadata DB and they talk to the API server, so these paths need their own proof.
"""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import health_checks
from tests.e2e.conftest import airflow_until_ok, wait_for_attempt
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.statsd_mapping import assert_every_line_maps


def test_scheduled_health_check_asks_the_api_server_for_the_metadata_db(
    airflow_home, running_airflow
) -> None:
    env, base = running_airflow
    trace_id = secrets.token_hex(16)
    # As a person would: once the DAG processor has stored the DAG, unpause it and trigger.
    airflow_until_ok(env, "dags", "unpause", "health_check")
    airflow_until_ok(
        env, "dags", "trigger", "health_check", "--conf", json.dumps({"trace_id": trace_id})
    )

    warehouse_url = f"sqlite:///{airflow_home.warehouse_path}"
    assert ("task_attempt", "success") in wait_for_attempt(warehouse_url, trace_id)
    engine = create_engine(warehouse_url)
    with engine.connect() as connection:
        results = {
            component: (status, detail)
            for component, status, detail in connection.execute(
                select(
                    health_checks.c.component, health_checks.c.status, health_checks.c.detail
                ).where(health_checks.c.trace_id == trace_id)
            )
        }
    engine.dispose()
    status, detail = results["metadata_db"]
    assert status == "up"
    assert detail.startswith(f"via {base}/api/v2/monitor/health: metadatabase healthy")
    assert "scheduler healthy" in detail
    status, detail = results["scheduler"]
    assert status == "up", detail
    assert detail.startswith(f"via {base}/api/v2/monitor/health: scheduler healthy, last heartbeat")
    assert results["celery_workers"][0] == "off"  # this deployment runs the LocalExecutor


def test_what_the_scheduler_processor_and_tasks_send_maps_onto_the_dashboard(
    airflow_home, running_airflow, statsd, tmp_path
) -> None:
    """Every statsd metric the running Airflow sends (scheduler, DAG processor, executor, API
    server, tasks) matches the shipped statsd_exporter mapping, and the dashboard's Airflow
    panels show what they become."""
    env, _ = running_airflow
    trace_id = secrets.token_hex(16)
    airflow_until_ok(env, "dags", "unpause", "health_check")
    conf = {"trace_id": trace_id, "components": ["disk_space"]}
    airflow_until_ok(env, "dags", "trigger", "health_check", "--conf", json.dumps(conf))
    assert ("task_attempt", "success") in wait_for_attempt(
        f"sqlite:///{airflow_home.warehouse_path}", trace_id
    )
    # The scheduler times a run once it has ended.
    deadline = time.monotonic() + 60
    while not statsd.starting_with("airflow.dagrun.duration.success.health_check"):
        assert time.monotonic() < deadline, sorted({line.split(":")[0] for line in statsd.lines})
        time.sleep(1)

    series = assert_every_line_maps(list(statsd.lines))
    assert_queries_return_data(
        panel_queries(
            "DAG run duration (mean over a day)",
            "Scheduler heartbeats per minute",
            "Executor slots",
            "Pools",
            "DAG import errors",
            "Task attempts by DAG and outcome",
        ),
        series,
        tmp_path,
    )
