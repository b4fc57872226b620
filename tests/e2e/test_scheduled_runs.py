"""Runs started by a real scheduler (LocalExecutor) through the API server, as in `make up`.

Task processes under a scheduler differ from `airflow dags test`: Airflow 3 blocks their access
to the metadata DB and they talk to the API server, so these paths need their own proof.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from spotify_agent.spotify_emulator.testing import EmulatorHandle, run_emulator
from spotify_agent.warehouse.schema import audit_log, health_checks


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def spotify() -> Iterator[EmulatorHandle]:
    with run_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def running_airflow(airflow_home, spotify) -> Iterator[tuple[object, str]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **airflow_home.env,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.1",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(spotify.connection()),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    logs = airflow_home.path / "e2e-logs"
    logs.mkdir(exist_ok=True)
    processes = []
    for component in (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"]):
        log = (logs / f"{component[0]}.log").open("w")
        processes.append(
            subprocess.Popen([airflow, *component], env=env, stdout=log, stderr=subprocess.STDOUT)
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail(f"the API server did not start; see {logs}")
        yield env, base
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _airflow_until_ok(env: dict[str, str], *args: str, timeout_s: float = 120) -> None:
    """Run an airflow CLI command until it succeeds (the DAG may not be parsed yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"airflow {' '.join(args)} kept failing:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        time.sleep(2)


def _wait_for_attempt(url: str, trace_id: str, timeout_s: float = 180) -> list[tuple[str, str]]:
    engine = create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                rows = [
                    tuple(row)
                    for row in connection.execute(
                        select(audit_log.c.action, audit_log.c.outcome).where(
                            audit_log.c.trace_id == trace_id
                        )
                    )
                ]
            if any(action == "task_attempt" for action, _ in rows):
                return rows
            time.sleep(1)
    finally:
        engine.dispose()
    pytest.fail(f"no task attempt for trace {trace_id} within {timeout_s}s")


def test_scheduled_health_check_asks_the_api_server_for_the_metadata_db(
    airflow_home, running_airflow
) -> None:
    env, base = running_airflow
    trace_id = secrets.token_hex(16)
    # As a person would: once the DAG processor has stored the DAG, unpause it and trigger.
    _airflow_until_ok(env, "dags", "unpause", "health_check")
    _airflow_until_ok(
        env, "dags", "trigger", "health_check", "--conf", json.dumps({"trace_id": trace_id})
    )

    warehouse_url = f"sqlite:///{airflow_home.warehouse_path}"
    assert ("task_attempt", "success") in _wait_for_attempt(warehouse_url, trace_id)
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
