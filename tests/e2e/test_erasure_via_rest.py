"""gdpr_erasure on demand through the REST API, as the service's backend triggers it.

The backend records the request (with the raw id) in the warehouse and triggers the run with the
request's id only: afterwards, the raw id is nowhere in Airflow, neither in any table of its
metadata DB nor in any task log, and no login (admin or Viewer) can read it through the API.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, insert, select

from spotify_agent.maintenance.erasure import record_request
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


def _metadata_db_text(path) -> str:
    """Every value of every table of Airflow's metadata DB, as text (bytes decoded loosely)."""
    parts = []
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the DB
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", errors="replace")
                    parts.append(str(value))
    return "\n".join(parts)


def _what_a_login_can_read(api: Api, run_id: str) -> str:
    """The run, its conf, its tasks, their XComs and logs, and the audit log, through the API."""
    texts = []
    runs = api.request("GET", f"/dags/{DAG_ID}/dagRuns")
    assert runs.status_code == 200, runs.text
    texts.append(runs.text)
    instances = api.request("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
    assert instances.status_code == 200, instances.text
    texts.append(instances.text)
    for ti in instances.json()["task_instances"]:
        base = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}"
        index = "" if ti.get("map_index", -1) == -1 else f"?map_index={ti['map_index']}"
        for try_number in range(1, (ti.get("try_number") or 1) + 1):
            log = api.request("GET", f"{base}/logs/{try_number}{index}")
            texts.append(log.text)
        texts.append(api.request("GET", f"{base}/xcomEntries{index}").text)
    texts.append(api.request("GET", f"/eventLogs?dag_id={DAG_ID}&limit=100").text)
    return "\n".join(texts)


def test_an_erasure_requested_by_the_backend_leaves_the_raw_id_nowhere_in_airflow(
    airflow_home, running_airflow, api, viewer_api
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
        # The backend's documented path: it does not hold the erasure key, the run hashes.
        request_id, _ = record_request(
            connection,
            user_id=user_id,
            keyring=None,
            requested_by="backend",
            trace_id=secrets.token_hex(16),
            at=now,
        )

    refused_id = f"bad-{secrets.token_hex(4)}"
    refused = api.request(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": refused_id, "logical_date": None, "conf": {"request_id": "a b"}},
    )
    assert refused.status_code == 400, refused.text
    assert "request_id" in refused.text
    assert api.request("GET", f"/dags/{DAG_ID}/dagRuns/{refused_id}").status_code == 404

    run_id = f"dsr-{request_id}"
    body = {"dag_run_id": run_id, "logical_date": None, "conf": {"request_id": request_id}}
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
            select(erasure_requests.c.status).where(erasure_requests.c.request_id == request_id)
        ).scalar_one()
    engine.dispose()
    assert (left, status) == (0, "completed")

    # Nowhere in Airflow: its metadata DB, every task log file, what any login can read.
    assert request_id in _metadata_db_text(airflow_home.path / "airflow.db")
    assert user_id not in _metadata_db_text(airflow_home.path / "airflow.db")
    logs = [path for path in (airflow_home.path / "logs").rglob("*") if path.is_file()]
    assert any(f"run_id={run_id}" in str(path) for path in logs)
    assert [path for path in logs if user_id.encode() in path.read_bytes()] == []
    for login in (api, viewer_api):
        readable = _what_a_login_can_read(login, run_id)
        assert request_id in readable and user_id not in readable
