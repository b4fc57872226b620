"""Runs started by a real scheduler (LocalExecutor) through the API server, as in `make up`.

Task processes under a scheduler differ from `airflow dags test`: Airflow 3 blocks their access
to the metadata DB and they talk to the API server, so these paths need their own proof.
"""

from __future__ import annotations

import json
import secrets

from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import health_checks
from tests.e2e.conftest import airflow_until_ok, wait_for_attempt


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
