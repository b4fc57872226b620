"""gdpr_erasure on demand through the REST API, as the service's backend triggers it."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, insert, select

from spotify_agent.warehouse.schema import erasure_requests, listening_events
from tests.e2e.conftest import Api, airflow_until_ok

DAG_ID = "gdpr_erasure"


def _wait_finished(api: Api, run_id: str, timeout_s: float = 180) -> str:
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state = api.request("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json().get("state", "")
        if state in ("success", "failed"):
            return state
        time.sleep(1)
    return state


def test_an_erasure_triggered_over_rest_erases_and_invalid_ids_never_start(
    airflow_home, running_airflow, api
) -> None:
    env, _ = running_airflow
    airflow_until_ok(env, "dags", "unpause", DAG_ID)
    user_id = f"rest-user-{secrets.token_hex(4)}"
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(listening_events),
            [
                {
                    "user_id": user_id,
                    "played_at": now - timedelta(minutes=n),
                    "track_id": "4uLU6hMCjMI75M1A2tKUQC",
                    "source": "e2e",
                    "run_id": "e2e",
                    "ingested_at": now,
                }
                for n in range(5)
            ],
        )

    refused_id = f"bad-{secrets.token_hex(4)}"
    refused = api.request(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": refused_id, "logical_date": None, "conf": {"user_id": "not an id!"}},
    )
    assert refused.status_code == 400, refused.text
    assert "user_id" in refused.text
    assert api.request("GET", f"/dags/{DAG_ID}/dagRuns/{refused_id}").status_code == 404

    run_id = f"dsr-{secrets.token_hex(4)}"
    body = {
        "dag_run_id": run_id,
        "logical_date": None,
        "conf": {"user_id": user_id, "request_id": run_id},
    }
    answer = api.request("POST", f"/dags/{DAG_ID}/dagRuns", json=body)
    assert answer.status_code == 200, answer.text
    assert api.request("POST", f"/dags/{DAG_ID}/dagRuns", json=body).status_code == 409

    assert _wait_finished(api, run_id) == "success"
    with engine.connect() as connection:
        left = connection.execute(
            select(func.count())
            .select_from(listening_events)
            .where(listening_events.c.user_id == user_id)
        ).scalar_one()
        status = connection.execute(
            select(erasure_requests.c.status).where(erasure_requests.c.request_id == run_id)
        ).scalar_one()
    engine.dispose()
    assert (left, status) == (0, "completed")
