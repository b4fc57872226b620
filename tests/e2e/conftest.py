"""A real Airflow (API server, scheduler, DAG processor; LocalExecutor) for end-to-end tests.

Started once per session against the session's Airflow home, as `make up` would start it.
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
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import audit_log
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.conftest import AirflowHome, make_airflow_home
from tests.receivers import (
    PagerDutyReceiver,
    StatsdReceiver,
    run_pagerduty_receiver,
    run_statsd_receiver,
)

REVIEWER = "reviewer"
VIEWER = "watcher"  # the least a login can see: every DAG's runs and their confs, logs, XComs
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
FIXTURES = Path(__file__).resolve().parents[1] / "dags" / "fixtures"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    """The end-to-end tests' own Airflow home: the scheduler started on it keeps running until
    the session ends, and must not pick up runs that other tests' `airflow dags test` creates."""
    return make_airflow_home(tmp_path_factory.mktemp("e2e-airflow-home"))


@pytest.fixture(scope="session")
def spotify() -> Iterator[EmulatorHandle]:
    with run_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def pagerduty() -> Iterator[PagerDutyReceiver]:
    """Where every component of the running Airflow pages (tests filter by dedup key)."""
    with run_pagerduty_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def statsd() -> Iterator[StatsdReceiver]:
    """Where every component of the running Airflow sends its statsd metrics (and ours), as
    they would go to statsd_exporter in the compose file's `monitoring` profile."""
    with run_statsd_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def running_airflow(airflow_home, spotify, pagerduty, statsd) -> Iterator[tuple[object, str]]:
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
        # As in `make up`: a test unpauses the DAGs it drives, so no other DAG's schedule (or the
        # asset events it emits) starts runs the test did not ask for.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # A named user for the API (the password is generated into AIRFLOW_HOME).
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{REVIEWER}:admin,{VIEWER}:viewer",
        "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(spotify.connection()),
        "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(pagerduty.connection()),
        **statsd.env(),
        # The project's DAGs, and the test DAGs (tests/dags/fixtures) in a bundle of their own.
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [
                {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
                {
                    "name": "test-fixtures",
                    "classpath": LOCAL_BUNDLE,
                    "kwargs": {"path": str(FIXTURES)},
                },
            ]
        ),
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


def airflow_until_ok(env: dict[str, str], *args: str, timeout_s: float = 120) -> None:
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


def wait_for_attempt(url: str, trace_id: str, timeout_s: float = 180) -> list[tuple[str, str]]:
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


@dataclass(frozen=True)
class Api:
    """The API server of the running Airflow, logged in as ``REVIEWER``."""

    base: str
    token: str

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        for attempt in range(3):
            answer = httpx.request(
                # 90 s: on a loaded 2-core CI machine the SQLite-backed API server has taken 30.
                method,
                f"{self.base}/api/v2{path}",
                headers=headers,
                timeout=90,
                **kwargs,
            )  # type: ignore[arg-type]
            # This deployment's metadata DB is SQLite: under a loaded CI machine a write can wait
            # out SQLite's 5 s lock and the API answers 500 "Database error" (seen on the audit
            # INSERT of a trigger). The failed request rolled back; asking again is safe.
            if answer.status_code != 500 or "Database error" not in answer.text or attempt == 2:
                return answer
            time.sleep(2)
        return answer


def _login(airflow_home: AirflowHome, base: str, user: str) -> Api:
    passwords = json.loads(
        (airflow_home.path / "simple_auth_manager_passwords.json.generated").read_text()
    )
    answer = httpx.post(
        f"{base}/auth/token", json={"username": user, "password": passwords[user]}, timeout=30
    )
    answer.raise_for_status()
    return Api(base, answer.json()["access_token"])


@pytest.fixture(scope="session")
def api(airflow_home, running_airflow) -> Api:
    return _login(airflow_home, running_airflow[1], REVIEWER)


@pytest.fixture(scope="session")
def viewer_api(airflow_home, running_airflow) -> Api:
    return _login(airflow_home, running_airflow[1], VIEWER)
