"""The CeleryExecutor deployment end to end, started by the script `make up-celery` runs:
PostgreSQL metadata and results, Redis broker, a worker per queue. A backend triggers runs
through the REST API with the project's client: the run succeeds on the queue of its family and
writes the warehouse; bad conf is refused with no run; a repeated run id starts nothing new."""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import soundfile
from sqlalchemy import create_engine, select, text

from spotify_agent.core.airflow_api import AirflowClient, ConfRefused, RunIdTaken
from spotify_agent.ml.audio.synthetic import ClipSpec, synth_clip
from spotify_agent.warehouse.schema import track_audio_features
from tests.conftest import PROJECT_DIR
from tests.e2e.conftest import _free_port

BACKEND_USER = "backend"
# Redis database for the broker: the other Redis tests use 15 and their own key prefixes.
BROKER_DB = 14
TRACKS = {
    "1aaaaaaaaaaaaaaaaaaaaa": ClipSpec(100, 2, "major", 8, seed=1),
    "2bbbbbbbbbbbbbbbbbbbbb": ClipSpec(124, 9, "minor", 8, seed=2),
}


@dataclass(frozen=True)
class Deployment:
    base: str
    home: Path
    warehouse_url: str
    objects: Path

    def client(self) -> AirflowClient:
        users = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        return AirflowClient(self.base, username=BACKEND_USER, password=users[BACKEND_USER])


def _database(server_url: str, name: str, *, drop: bool = False) -> None:
    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


@pytest.fixture(scope="module")
def celery(tmp_path_factory, postgres_server_url, redis_url) -> Iterator[Deployment]:
    import redis

    root = tmp_path_factory.mktemp("celery-deployment")
    suffix = secrets.token_hex(4)
    metadata_db, warehouse_db = f"e2e_celery_meta_{suffix}", f"e2e_celery_wh_{suffix}"
    server = postgres_server_url.rsplit("/", 1)[0]
    _database(server, warehouse_db)
    broker = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(broker).flushdb()
    port = _free_port()
    objects = root / "objects"
    (objects / "audio").mkdir(parents=True)
    for track_id, spec in TRACKS.items():
        buffer = io.BytesIO()
        soundfile.write(buffer, synth_clip(spec), spec.sample_rate, format="FLAC")
        (objects / "audio" / f"{track_id}.flac").write_bytes(buffer.getvalue())
    warehouse_url = f"{server}/{warehouse_db}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__"))
    }
    env.update(
        {
            "CELERY_AIRFLOW_HOME": str(root / "airflow"),
            "CELERY_DB_URL": f"{server}/{metadata_db}",
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW_PORT": str(port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{BACKEND_USER}:admin",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps(
                {
                    "conn_type": "postgres",
                    "host": "127.0.0.1",
                    "port": 5432,
                    "login": "postgres",
                    "schema": warehouse_db,
                }
            ),
            "OBJECT_STORE_URL": str(objects),
            "AIRFLOW_VAR_OBJECT_STORE_URL": str(objects),
            "CELERY_WORKER_CONCURRENCY": "1",
            # Only the runs the tests trigger: unpausing a DAG must not start its schedule's.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
    )
    log = (root / "up-celery.log").open("w")
    process = subprocess.Popen(
        [str(PROJECT_DIR / "scripts" / "up_celery.sh")],
        env=env,
        cwd=PROJECT_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the teardown stops every component
    )
    deployment = Deployment(f"http://127.0.0.1:{port}", root / "airflow", warehouse_url, objects)
    try:
        _wait_until_up(deployment, process, root)
        yield deployment
    finally:
        _stop(process)
        _database(server, metadata_db, drop=True)
        _database(server, warehouse_db, drop=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the script's process group (it stops its components), SIGKILL if it hangs."""
    for sig, wait_s in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_until_up(deployment: Deployment, process: subprocess.Popen, root: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"up_celery.sh exited {process.returncode}:\n{_logs(root)}")
        try:
            health = httpx.get(f"{deployment.base}/api/v2/monitor/health", timeout=2)
            if health.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    pytest.fail(f"the Celery deployment did not come up in 240 s:\n{_logs(root)}")


def _logs(root: Path) -> str:
    parts = [(root / "up-celery.log").read_text()[-3000:]]
    for path in sorted((root / "airflow" / "components").glob("*.log")):
        parts.append(f"--- {path.name}\n{path.read_text()[-2000:]}")
    return "\n".join(parts)


def _ready(client: AirflowClient, dag_id: str) -> None:
    """Wait for the DAG processor to have parsed ``dag_id``, then unpause it."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            client.set_paused(dag_id, False)
            return
        except Exception:  # noqa: BLE001 - 404 until the DAG is parsed
            time.sleep(2)
    pytest.fail(f"{dag_id} was never parsed")


def test_a_run_triggered_over_rest_succeeds_on_its_familys_workers(celery) -> None:
    with celery.client() as client:
        _ready(client, "audio_analysis")
        run_id = f"backend-{secrets.token_hex(4)}"

        run = client.wait(
            client.trigger("audio_analysis", {"batch_size": 1}, run_id=run_id), timeout_s=300
        )

        assert run.state == "success", run
        instances = client.task_instances("audio_analysis", run_id)
    # every task on the ml queue, run by the ml worker (the only one consuming it)
    assert {ti["queue"] for ti in instances} == {"ml"}
    assert [ti["state"] for ti in instances if ti["task_id"] == "analyse_batch"] == [
        "success"
    ] * len(TRACKS)
    workers = celery.home / "components"
    assert "ml/audio_analysis.py" in (workers / "worker-ml.log").read_text()
    assert "ml/audio_analysis.py" not in (workers / "worker-default.log").read_text()
    engine = create_engine(celery.warehouse_url)
    with engine.connect() as connection:
        rows = connection.execute(select(track_audio_features)).mappings().all()
    engine.dispose()
    assert {row["track_id"]: (row["key"], row["mode"]) for row in rows} == {
        track_id: (spec.tonic, spec.mode) for track_id, spec in TRACKS.items()
    }


def test_bad_conf_is_refused_with_the_field_named_and_no_run(celery) -> None:
    run_id = f"refused-{secrets.token_hex(4)}"
    with celery.client() as client:
        _ready(client, "audio_analysis")
        with pytest.raises(ConfRefused) as refused:
            client.trigger("audio_analysis", {"batch_size": 0}, run_id=run_id)
        assert refused.value.status == 400 and "batch_size" in refused.value.detail
        answer = client.request("GET", f"/api/v2/dags/audio_analysis/dagRuns/{run_id}")
    assert answer.status_code == 404


def test_a_repeated_run_id_is_refused_by_airflow_and_returned_by_the_client(celery) -> None:
    run_id = f"again-{secrets.token_hex(4)}"
    conf = {"track_ids": ["1aaaaaaaaaaaaaaaaaaaaa"]}
    with celery.client() as client:
        _ready(client, "audio_analysis")
        first = client.trigger("audio_analysis", conf, run_id=run_id)
        raw = client.request(
            "POST",
            "/api/v2/dags/audio_analysis/dagRuns",
            json={"dag_run_id": run_id, "logical_date": None, "conf": conf},
        )
        again = client.trigger("audio_analysis", conf, run_id=run_id)
        with pytest.raises(RunIdTaken):  # the same id for another request is a caller's bug
            client.trigger("audio_analysis", {"reanalyse": True}, run_id=run_id)
        runs = client.request(
            "GET", "/api/v2/dags/audio_analysis/dagRuns", params={"limit": 100}
        ).json()
        client.wait(first, timeout_s=300)

    assert raw.status_code == 409
    assert first.created and not again.created and again.run_id == run_id
    assert [run["dag_run_id"] for run in runs["dag_runs"]].count(run_id) == 1
