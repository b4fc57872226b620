"""The CeleryExecutor deployment end to end, started by the script `make up-celery` runs:
PostgreSQL metadata and results, Redis broker, a worker per queue. A backend triggers runs
through the REST API with the project's client: the run succeeds on the queue of its family and
writes the warehouse; bad conf is refused with no run; a repeated run id starts nothing new; a
worker killed mid-task costs a retry on another worker and nothing else."""

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
    env: dict[str, str]

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
            # A lost worker's task is found within seconds, not the default five minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
            # The killed task's retry waits 0.6 s, not a minute; the attempts stay the same.
            "AIRFLOW__SPOTIFY_AGENT__RETRY_DELAY_SCALE": "0.01",
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
    deployment = Deployment(
        f"http://127.0.0.1:{port}", root / "airflow", warehouse_url, objects, env
    )
    try:
        _wait_until_up(deployment, process, root)
        yield deployment
    finally:
        _stop(process)
        _database(server, metadata_db, drop=True)
        _database(server, warehouse_db, drop=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the script's process group (it stops its components), SIGKILL if it hangs.

    An idle deployment stops in about 12 s; a Celery worker still warm-shutting down a task
    (the tests leave retries behind) would hold the teardown for a minute, and the databases
    are dropped next anyway."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
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


# The columns a run writes about itself, or about the file (not the audio) it read.
RUN_COLUMNS = {"track_id", "object_key", "source_signature", "run_id", "trace_id", "analysed_at"}


def _feature_rows(url: str, track_ids: list[str]) -> list[dict]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(track_audio_features)
            .where(track_audio_features.c.track_id.in_(track_ids))
            .order_by(track_audio_features.c.track_id)
        ).mappings()
        found = [dict(row) for row in rows]
    engine.dispose()
    return found


def _audits(url: str, run_id: str) -> list[dict]:
    from spotify_agent.warehouse.schema import audit_log

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.outcome, audit_log.c.counts).where(
                audit_log.c.run_id == run_id
            )
        ).mappings()
        found = [dict(row) for row in rows]
    engine.dispose()
    return found


def _ml_workers(app) -> list[str]:
    replies = app.control.inspect(timeout=3).active_queues() or {}
    return sorted(
        name for name, queues in replies.items() if any(q["name"] == "ml" for q in queues)
    )


def _start_worker(celery: Deployment, name: str) -> subprocess.Popen:
    env = {**celery.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port())}
    log = (celery.home / "components" / f"worker-{name}.log").open("w")
    command = (
        ". scripts/env.sh && . scripts/celery_env.sh && exec airflow celery worker "
        f"--queues ml --concurrency 1 --celery-hostname {name}@%h"
    )
    return subprocess.Popen(
        ["bash", "-c", command],
        env=env,
        cwd=PROJECT_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(celery) -> None:
    """SIGKILL the worker running a batch: the scheduler notices the missing heartbeats, the
    retry runs on the other ml worker, and the warehouse ends as an undisturbed run leaves it."""
    from celery import Celery

    clips = [synth_clip(ClipSpec(90 + 7 * n, n, "major", 60, seed=n)) for n in range(4)]
    calm = [f"u{n:021d}" for n in range(32)]
    killed = [f"k{n:021d}" for n in range(32)]
    for group in (calm, killed):  # the same audio under two sets of tracks
        for n, track_id in enumerate(group):
            buffer = io.BytesIO()
            soundfile.write(buffer, clips[n % len(clips)], 22050, format="FLAC")
            (celery.objects / "audio" / f"{track_id}.flac").write_bytes(buffer.getvalue())
    conf = {"batch_size": 100}
    app = Celery(broker=celery.env["AIRFLOW__CELERY__BROKER_URL"])
    with celery.client() as client:
        _ready(client, "audio_analysis")
        undisturbed = client.wait(
            client.trigger("audio_analysis", {**conf, "track_ids": calm}, run_id="calm"),
            timeout_s=300,
        )
        assert undisturbed.state == "success"

        # Only a doomed worker consumes ml while the batch starts, so it is the one running it.
        (survivor,) = _ml_workers(app)
        app.control.cancel_consumer("ml", destination=[survivor], reply=True)
        doomed = _start_worker(celery, "doomed")
        try:
            deadline = time.monotonic() + 120
            while not any(name.startswith("doomed@") for name in _ml_workers(app)):
                assert time.monotonic() < deadline, "the doomed worker never consumed ml"
                time.sleep(1)
            run = client.trigger("audio_analysis", {**conf, "track_ids": killed}, run_id="killed")
            deadline = time.monotonic() + 180
            while _state(client, "killed", "analyse_batch") != "running":
                assert time.monotonic() < deadline, "the batch never started"
                time.sleep(0.3)
            time.sleep(1.5)  # mid-batch: 32 minutes of audio take several seconds
            _kill_tree(doomed.pid)  # as when the machine goes: worker, supervisor and task
        finally:
            _stop(doomed)
            app.control.add_consumer("ml", destination=[survivor], reply=True)

        finished = client.wait(run, timeout_s=400)
        tries = client.request(
            "GET", "/api/v2/dags/audio_analysis/dagRuns/killed/taskInstances/analyse_batch/0"
        ).json()

    assert finished.state == "success"
    assert tries["try_number"] >= 2  # the killed attempt, then the retry
    worker_logs = celery.home / "components"
    assert "ml/audio_analysis.py" in (worker_logs / "worker-doomed.log").read_text()
    calm_rows, killed_rows = (
        _feature_rows(celery.warehouse_url, calm),
        _feature_rows(celery.warehouse_url, killed),
    )
    assert len(killed_rows) == len(killed) == len({row["track_id"] for row in killed_rows})
    strip = lambda row: {k: v for k, v in row.items() if k not in RUN_COLUMNS}  # noqa: E731
    assert [strip(row) for row in killed_rows] == [strip(row) for row in calm_rows]
    extracted = [
        a
        for a in _audits(celery.warehouse_url, "killed")
        if a["action"] == "audio_features_extracted"
    ]
    assert len(extracted) == 1 and extracted[0]["counts"]["rows_written"] == len(killed)


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (the task may run in a process group of its own)."""
    import psutil

    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def _state(client: AirflowClient, run_id: str, task_id: str) -> str:
    for ti in client.task_instances("audio_analysis", run_id):
        if ti["task_id"] == task_id:
            return str(ti["state"] or "")
    return ""
