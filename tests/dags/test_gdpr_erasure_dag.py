"""gdpr_erasure end to end with `airflow dags test` on the embedded default (SQLite, local store).

The user is seeded into every registered store, backed up by the real backup DAG, erased by the
DAG, and then the pre-erasure backup is restored with `restore-warehouse`: the user must be gone
from the live warehouse, the object store and the restored copy. Requests are recorded with
`request-erasure` first; a run conf carries only the request's id.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.maintenance.erasure_keys import key_id
from spotify_agent.maintenance.personal_data import REGISTRY, Place, user_hmac
from spotify_agent.ml.publish import PREFIX
from spotify_agent.warehouse.schema import audit_log, erasure_requests
from tests.conftest import PROJECT_DIR, redis_connection
from tests.include.maintenance.test_erasure import seed_everywhere

# airflow_settings.yaml's demo key (the connection the DAG and the CLI read).
DEMO_KEY = b"demo-erasure-key-not-for-production"
GONE = "erase.me-1"  # the id seed_everywhere plants
KEPT = "erase.me-10"
# Landed files only, and no Spotify here: the tracks they name are not looked up.
LANDED_ONLY = {"sources": ["landing_files"], "look_up_tracks": False}


def _engine(airflow_home):
    return create_engine(f"sqlite:///{airflow_home.warehouse_path}")


def _found(engine, objects, user_id: str, kind: str | None = None, cache=None) -> dict[str, int]:
    with engine.connect() as connection:
        place = Place(connection, objects, cache)
        return {
            store.name: store.find(place, user_id)
            for store in REGISTRY
            if kind is None or store.kind == kind
        }


def _erase(airflow_home, day: str, conf: dict[str, object], env: dict[str, str] | None = None):
    return airflow_home.airflow(
        "dags", "test", "gdpr_erasure", day, "--conf", json.dumps(conf), extra_env=env
    )


def _request(airflow_home, user_id: str, request_id: str) -> str:
    """Record a request as a developer does (the backend does the same in the warehouse)."""
    result = airflow_home.cli("request-erasure", user_id, "--request-id", request_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"erasure request {request_id} " in result.stdout
    return request_id


@pytest.fixture(scope="module")
def cache(redis_url):
    """A Redis database of this module's own (12): the DAG erases under the real ``recs``
    prefix, which recommendation_update's tests also use (in database 15)."""
    import redis

    url = f"{redis_url.rsplit('/', 1)[0]}/12"
    client = redis.Redis.from_url(url)
    client.flushdb()
    env = {
        "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(redis_connection(url)),
        "AIRFLOW_VAR_CACHE_BACKEND": "redis",
    }
    yield client, env
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def erased(airflow_home, cache):
    """Seed, back up (2026-05-01), erase (request "dsr-1", Redis on); returns the two DAG
    results."""
    from upath import UPath

    client, env = cache
    engine = _engine(airflow_home)
    objects = UPath(airflow_home.objects_path)
    seed_everywhere(engine, objects, client, cache_prefix=PREFIX)
    assert all(_found(engine, objects, GONE, cache=client).values())
    backup = airflow_home.airflow("dags", "test", "backup", "2026-05-01")
    assert backup.returncode == 0, backup.stdout[-4000:]
    result = _erase(
        airflow_home, "2026-05-02", {"request_id": _request(airflow_home, GONE, "dsr-1")}, env
    )
    assert result.returncode == 0, result.stdout[-4000:]
    yield engine, objects, result
    engine.dispose()


def test_the_user_is_gone_from_every_store_and_others_stay(erased, cache) -> None:
    engine, objects, _ = erased
    client = cache[0]
    assert _found(engine, objects, GONE, cache=client) == {store.name: 0 for store in REGISTRY}
    kept = _found(engine, objects, KEPT, cache=client)
    assert kept["listening_events.user_id"] == 25
    assert kept["cache:recommendations"] == 2  # both sets still serve the other listener
    assert client.get(f"{PREFIX}:current") is not None


def test_the_receipt_names_stores_and_counts_but_never_the_id(erased) -> None:
    engine, _, _ = erased
    digest = user_hmac(GONE, DEMO_KEY)
    with engine.connect() as connection:
        receipt = (
            connection.execute(
                select(audit_log).where(
                    audit_log.c.action == "user_erased", audit_log.c.entity_key == digest
                )
            )
            .mappings()
            .one()
        )
        request = (
            connection.execute(
                select(erasure_requests).where(erasure_requests.c.request_id == "dsr-1")
            )
            .mappings()
            .one()
        )
        audit_text = " ".join(
            str(value) for row in connection.execute(select(audit_log)) for value in row
        )
    assert receipt["outcome"] == "erased"
    assert receipt["counts"]["listening_events.user_id"] == 25
    assert receipt["counts"]["cache:recommendations"] == 2
    assert json.loads(receipt["detail"])["stores"] == [store.name for store in REGISTRY]
    assert json.loads(receipt["detail"])["key_id"] == key_id(DEMO_KEY) == request["key_id"]
    assert request["status"] == "completed" and request["user_id"] is None
    assert GONE not in audit_text.replace(KEPT, "")


def test_a_restored_pre_erasure_backup_ends_without_the_user(
    airflow_home, erased, tmp_path
) -> None:
    target = tmp_path / "restored.db"
    result = airflow_home.cli(
        "restore-warehouse", "--date", "2026-05-01", "--into", f"sqlite:///{target}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replayed 1 erasures (1 logged after the backup): 1 erased users found again" in (
        result.stdout
    )
    restored = create_engine(f"sqlite:///{target}")
    try:
        assert _found(restored, None, GONE, kind="warehouse") == {
            store.name: 0 for store in REGISTRY if store.kind == "warehouse"
        }
        assert _found(restored, None, KEPT)["listening_events.user_id"] == 25
    finally:
        restored.dispose()


def test_a_late_file_does_not_bring_the_erased_user_back(airflow_home, erased) -> None:
    engine, objects, _ = erased
    late = airflow_home.objects_path / "landing/listening/late/after-erasure.jsonl"
    late.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "user_id": user,
            "track_id": "4uLU6hMCjMI75M1A2tKUQC",
            "played_at": f"2026-05-01T09:0{n}:00Z",
        }
        for n, user in enumerate([GONE, KEPT, GONE])
    ]
    late.write_text(
        "".join(json.dumps(row) + "\n" for row in rows) + '{"user_id": "erase.me-1", "broken\n'
    )
    result = airflow_home.airflow(
        "dags",
        "test",
        "listening_ingest",
        "2026-05-02",
        "--conf",
        json.dumps(LANDED_ONLY),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    # Neither the warehouse nor the landed file keeps them.
    assert _found(engine, objects, GONE) == {store.name: 0 for store in REGISTRY}
    assert KEPT in late.read_text()
    with engine.connect() as connection:
        counts = connection.execute(
            select(audit_log.c.counts).where(
                audit_log.c.action == "listening_file_ingested",
                audit_log.c.entity_key == "landing/listening/late/after-erasure.jsonl",
            )
        ).scalar_one()
    assert counts["rows_written"] == 1  # KEPT's play
    assert counts["erased_user_rows_dropped"] == 3  # two plays and the broken line


def test_repeating_the_trigger_is_harmless(airflow_home, erased) -> None:
    again = _erase(airflow_home, "2026-05-03", {"request_id": "dsr-1"})
    assert again.returncode == 0, again.stdout[-4000:]
    engine, _, _ = erased
    with engine.connect() as connection:
        receipts = connection.execute(
            select(audit_log.c.id).where(
                audit_log.c.action == "user_erased",
                audit_log.c.entity_key == user_hmac(GONE, DEMO_KEY),
            )
        ).all()
    assert len(receipts) == 1


def test_an_unknown_user_completes_with_a_receipt_saying_so(airflow_home) -> None:
    user_id = f"nobody-{secrets.token_hex(4)}"
    request_id = _request(airflow_home, user_id, f"r-{user_id}")
    result = _erase(airflow_home, "2026-05-04", {"request_id": request_id})
    assert result.returncode == 0, result.stdout[-4000:]
    engine = _engine(airflow_home)
    with engine.connect() as connection:
        outcome = connection.execute(
            select(audit_log.c.outcome).where(
                audit_log.c.action == "user_erased",
                audit_log.c.entity_key == user_hmac(user_id, DEMO_KEY),
            )
        ).scalar_one()
    engine.dispose()
    assert outcome == "nothing_found"


@pytest.mark.parametrize("request_id", ["has space", "x" * 65, "robert'); DROP TABLE x;--"])
def test_an_invalid_reference_is_refused_before_a_run_starts(airflow_home, request_id) -> None:
    result = _erase(airflow_home, "2026-05-05", {"request_id": request_id})
    assert result.returncode != 0
    assert "Invalid input for param request_id" in result.stdout + result.stderr


def test_request_erasure_refuses_an_id_that_is_not_a_spotify_id(airflow_home) -> None:
    result = airflow_home.cli("request-erasure", "robert'); DROP TABLE listening_events;--")
    assert result.returncode == 2 and "user_id: not a Spotify user id" in result.stderr


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"request_id": "never-recorded"}, "request_id: no erasure request 'never-recorded'"),
        ({"user_id": "erase.me-1"}, "user_id: a run conf must not carry the user's id"),
    ],
)
def test_a_run_that_names_no_recorded_request_fails_at_once(airflow_home, conf, message) -> None:
    result = _erase(airflow_home, "2026-05-05", conf)
    assert message in result.stdout
    assert "up_for_retry" not in result.stdout.lower()


def test_a_request_the_backend_wrote_directly_is_processed_by_the_hourly_run(
    airflow_home,
) -> None:
    """Backends may queue requests in the warehouse; the scheduled run (no conf) takes them."""
    user_id = f"queued-{secrets.token_hex(4)}"
    engine = _engine(airflow_home)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            erasure_requests.insert().values(
                request_id=f"queued-{user_id}",
                user_id=user_id,
                user_hmac="",  # the documented insert: the run hashes it with its key
                status="pending",
                requested_by_run="backend",
                trace_id="ef" * 16,
                requested_at=now - timedelta(minutes=5),
            )
        )
    result = airflow_home.airflow("dags", "test", "gdpr_erasure", "2026-05-06")
    assert result.returncode == 0, result.stdout[-4000:]
    with engine.connect() as connection:
        status = connection.execute(
            select(erasure_requests.c.status).where(
                erasure_requests.c.request_id == f"queued-{user_id}"
            )
        ).scalar_one()
    engine.dispose()
    assert status == "completed"


def test_a_run_killed_midway_is_completed_by_the_next_run(airflow_home) -> None:
    """SIGKILL the run while it rewrites landed files (the last store), then run again."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from spotify_agent.warehouse.schema import erasure_steps

    user_id = f"killed-{secrets.token_hex(4)}"
    folder = airflow_home.objects_path / "landing/listening/killed" / user_id
    folder.mkdir(parents=True)
    line = (
        json.dumps(
            {
                "user_id": "someone-else",
                "track_id": "4uLU6hMCjMI75M1A2tKUQC",
                "played_at": "2026-05-01T08:00:00Z",
            }
        ).encode()
        + b"\n"
    )
    mine = line.replace(b"someone-else", user_id.encode())
    # Enough files that rewriting them takes seconds: the window the kill lands in.
    for n in range(60):
        (folder / f"{n:03d}.jsonl").write_bytes(line * 4000 + mine)
    engine = _engine(airflow_home)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("airflow")),
            "dags",
            "test",
            "gdpr_erasure",
            "2026-05-07",
            "--conf",
            json.dumps({"request_id": _request(airflow_home, user_id, f"k-{user_id}")}),
        ],
        env=airflow_home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    warehouse_stores = {store.name for store in REGISTRY if store.kind == "warehouse"}
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                steps = dict(
                    connection.execute(
                        select(erasure_steps.c.store, erasure_steps.c.erased).where(
                            erasure_steps.c.request_id == f"k-{user_id}"
                        )
                    ).all()
                )
            # Inside the files step: some files rewritten and counted, others not yet.
            if set(steps) >= warehouse_stores and steps.get("objects:landing/listening", 0) > 0:
                break
            assert process.poll() is None, "the run ended before the kill"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
        # The killed `dags test` leaves its run "running"; with max_active_runs=1 a scheduler
        # sharing this metadata DB would start no other gdpr_erasure run. A person would mark
        # it failed in the UI; do the same.
        import sqlite3

        with sqlite3.connect(airflow_home.path / "airflow.db") as metadata:
            metadata.execute(
                "UPDATE dag_run SET state = 'failed' WHERE dag_id = 'gdpr_erasure' "
                "AND state IN ('running', 'queued')"
            )
    with engine.connect() as connection:
        status = connection.execute(
            select(erasure_requests.c.status).where(erasure_requests.c.request_id == f"k-{user_id}")
        ).scalar_one()
        first_steps = dict(
            connection.execute(
                select(erasure_steps.c.store, erasure_steps.c.run_id).where(
                    erasure_steps.c.request_id == f"k-{user_id}", erasure_steps.c.status == "done"
                )
            ).all()
        )
    assert status == "pending" and "objects:landing/listening" not in first_steps

    rerun = airflow_home.airflow("dags", "test", "gdpr_erasure", "2026-05-08")
    assert rerun.returncode == 0, rerun.stdout[-4000:]

    from upath import UPath

    assert _found(engine, UPath(airflow_home.objects_path), user_id) == {
        store.name: 0 for store in REGISTRY
    }
    with engine.connect() as connection:
        steps = dict(
            connection.execute(
                select(erasure_steps.c.store, erasure_steps.c.run_id).where(
                    erasure_steps.c.request_id == f"k-{user_id}"
                )
            ).all()
        )
        counts = connection.execute(
            select(erasure_requests.c.counts).where(erasure_requests.c.request_id == f"k-{user_id}")
        ).scalar_one()
    engine.dispose()
    # The stores done before the kill were not redone; the files were finished by the re-run.
    assert {name: steps[name] for name in first_steps} == first_steps
    # Files rewritten before the kill were counted then; one rewritten in the instant before
    # the kill, before its count was committed, is found clean by the re-run (documented).
    assert counts["objects:landing/listening"] in (59, 60)
    assert all((folder / f"{n:03d}.jsonl").read_bytes() == line * 4000 for n in range(60))


def _ingest_late_plays(airflow_home, name: str, env: dict[str, str] | None = None):
    late = airflow_home.objects_path / f"landing/listening/late/{name}.jsonl"
    late.parent.mkdir(parents=True, exist_ok=True)
    play = {
        "user_id": GONE,
        "track_id": "4uLU6hMCjMI75M1A2tKUQC",
        "played_at": "2026-05-01T10:00:00Z",
    }
    late.write_text(json.dumps(play) + "\n")
    conf = json.dumps(LANDED_ONLY)
    return airflow_home.airflow(
        "dags", "test", "listening_ingest", "2026-05-02", "--conf", conf, extra_env=env
    )


def test_a_changed_or_rotated_key_never_lets_an_erased_listener_back(
    airflow_home, erased, tmp_path
) -> None:
    engine, objects, _ = erased
    # Only the key connection of airflow_settings.yaml: forcing the whole file from this
    # module's environment would point the session's other connections at this module's stores.
    import yaml

    settings = yaml.safe_load((PROJECT_DIR / "airflow_settings.yaml").read_text())
    settings["airflow"] = {
        "connections": [
            c for c in settings["airflow"]["connections"] if c["conn_id"] == "gdpr_erasure_key"
        ]
    }
    only_key = tmp_path / "only-the-key.yaml"
    only_key.write_text(yaml.safe_dump(settings))
    new_key = "a-new-production-erasure-key-0001"
    # Re-applying settings with another key in the environment leaves the key alone.
    kept = airflow_home.cli("apply-settings", extra_env={"GDPR_ERASURE_KEY": new_key})
    assert "connection gdpr_erasure_key differs from the file: left as configured" in kept.stdout

    rotated = airflow_home.cli("rotate-erasure-key", extra_env={"GDPR_ERASURE_NEW_KEY": new_key})
    assert rotated.returncode == 0, rotated.stderr
    assert f"current key is now {key_id(new_key.encode())}" in rotated.stdout
    assert f"retired keys kept for matching: {key_id(DEMO_KEY)}" in rotated.stdout
    try:
        result = _ingest_late_plays(airflow_home, "after-rotation")
        assert result.returncode == 0, result.stdout[-4000:]
        assert _found(engine, objects, GONE, kind="warehouse")["listening_events.user_id"] == 0

        # Overwriting the connection drops the old key: ingestion stops, naming it.
        forced = airflow_home.cli(
            "apply-settings",
            "--file",
            str(only_key),
            "--force",
            extra_env={"GDPR_ERASURE_KEY": new_key},
        )
        assert "overwrote connection gdpr_erasure_key" in forced.stdout
        refused = _ingest_late_plays(airflow_home, "after-overwrite")
        assert f"the erasure log refers to key {key_id(DEMO_KEY)}" in refused.stdout
        assert "gdpr_erasure_key" in refused.stdout and "up_for_retry" not in refused.stdout
        assert _found(engine, objects, GONE, kind="warehouse")["listening_events.user_id"] == 0
    finally:
        # Back to the demo key for the other tests of this home.
        airflow_home.cli("apply-settings", "--file", str(only_key), "--force")
