"""Game day: the operations lifecycle in order, on production parts (PostgreSQL warehouse, an S3
API server as object store, real Redis), with the commands of docs/OPERATIONS.md.

ingest -> back up -> erase -> rotate the key -> ingest the erased listener again (kept out) ->
lose the warehouse database and Airflow's metadata DB -> restore from the object store alone ->
no row of the erased listener anywhere -> re-run the families: the same state twice.
Each step prints one summary line (kept in $TEST_ARTIFACTS_DIR/game-day.txt).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from spotify_agent.maintenance.erasure_keys import key_id
from spotify_agent.maintenance.personal_data import REGISTRY, Place
from spotify_agent.ml.publish import user_key
from spotify_agent.warehouse.schema import listening_events, metadata
from tests.conftest import PROJECT_DIR, make_airflow_home, redis_connection

GONE, KEPT = "gameday.gone", "gameday.kept"
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
# Landed files only, and no Spotify here: the tracks they name are not looked up.
LANDED_ONLY = {"sources": ["landing_files"], "look_up_tracks": False}
DEMO_KEY = "demo-erasure-key-not-for-production"
NEW_KEY = "game-day-rotated-erasure-key-0042"
# Tables a re-run may add to (docs/OPERATIONS.md, README): bookkeeping, not business state.
BOOKKEEPING = {"audit_log", "health_checks", "backups", "alembic_version"}


class Walk:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, name: str, detail: str) -> None:
        line = f"game day: {name:<28} {detail}"
        self.lines.append(line)
        print(line)

    def save(self) -> None:
        folder = Path(os.environ.get("TEST_ARTIFACTS_DIR", PROJECT_DIR / "var" / "test-artifacts"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "game-day.txt").write_text("\n".join(self.lines) + "\n")


def _ok(result) -> str:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    return result.stdout


def _plays(url: str, user_id: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = select(func.count()).select_from(listening_events)
            return int(
                connection.execute(query.where(listening_events.c.user_id == user_id)).scalar_one()
            )
    finally:
        engine.dispose()


def _business_state(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: int(
                    connection.execute(select(func.count()).select_from(table)).scalar_one()
                )
                for table in metadata.sorted_tables
                if table.name not in BOOKKEEPING
            }
    finally:
        engine.dispose()


@pytest.fixture
def warehouse_server(postgres_server_url):
    """Two database names on the real server: the live warehouse (dropped mid-test) and the
    restore's target; both removed at the end."""
    names = [f"spotify_agent_test_gd_{secrets.token_hex(3)}", ""]
    names[1] = f"{names[0]}_restored"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{names[0]}"'))
    base = make_url(postgres_server_url)
    yield [base.set(database=name) for name in names], admin
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_game_day(tmp_path, warehouse_server, s3_server, redis_url) -> None:
    import redis

    from spotify_agent.ml.publish import publish
    from spotify_agent.ml.recommend import Recommendation

    walk = Walk()
    (live, restored), admin = warehouse_server
    home = make_airflow_home(tmp_path)
    prefix = f"gameday-{secrets.token_hex(4)}"
    s3 = s3_server.client()
    objects_url = f"s3://{s3_server.bucket}/{prefix}"
    cache_url = f"{redis_url.rsplit('/', 1)[0]}/11"
    aws = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",  # pragma: allowlist secret
        "extra": {"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    }

    def warehouse_env(url) -> dict[str, str]:
        return {
            "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps(
                {
                    "conn_type": "postgres",
                    "host": url.host,
                    "port": url.port,
                    "login": url.username,
                    "schema": url.database,
                }
            ),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW_VAR_OBJECT_STORE_URL": objects_url,
            "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(redis_connection(cache_url)),
            "AIRFLOW_VAR_CACHE_BACKEND": "redis",
        }

    env = warehouse_env(live)
    live_url = live.render_as_string(hide_password=False)
    _ok(home.cli("migrate-warehouse", extra_env=env))

    def land(name: str, users: list[str], day: str) -> None:
        lines = [
            json.dumps({"user_id": user, "track_id": TRACK, "played_at": f"{day}T08:{n:02d}:00Z"})
            for n, user in enumerate(users)
        ]
        s3.put_object(
            Bucket=s3_server.bucket,
            Key=f"{prefix}/landing/listening/gameday/{name}",
            Body=("\n".join(lines) + "\n").encode(),
        )

    def ingest(day: str, run_env: dict[str, str]) -> str:
        conf = json.dumps(LANDED_ONLY)
        return _ok(
            home.airflow("dags", "test", "listening_ingest", day, "--conf", conf, extra_env=run_env)
        )

    cache = redis.Redis.from_url(cache_url)
    cache.flushdb()
    try:
        # 1. Ingest.
        land("day1.jsonl", [GONE, GONE, GONE, KEPT, KEPT], "2026-05-01")
        ingest("2026-05-02", env)
        version = "ease-1:2026-05-01:gameday"
        publish(
            cache,
            version,
            [Recommendation(u, 1, TRACK, 0.5, None, "Popular") for u in (GONE, KEPT)],
        )
        assert (_plays(live_url, GONE), _plays(live_url, KEPT)) == (3, 2)
        walk.step("ingest", f"plays stored: {GONE} 3, {KEPT} 2; recommendations cached for both")

        # 2. Back up.
        _ok(home.airflow("dags", "test", "backup", "2026-05-02", extra_env=env))
        listing = _ok(home.cli("restore-warehouse", "--objects", objects_url, extra_env=env))
        assert "2026-05-02" in listing
        walk.step("backup", "backup of 2026-05-02 verified, its manifest listed by make restore")

        # 3. Erase (the request recorded first; the run conf names it).
        _ok(home.cli("request-erasure", GONE, "--request-id", "gd-1", extra_env=env))
        _ok(
            home.airflow(
                "dags",
                "test",
                "gdpr_erasure",
                "2026-05-03",
                "--conf",
                json.dumps({"request_id": "gd-1"}),
                extra_env=env,
            )
        )
        assert _plays(live_url, GONE) == 0 and cache.get(user_key(version, GONE)) is None
        assert cache.get(user_key(version, KEPT)) is not None
        walk.step("erase", f"request gd-1 completed: 3 plays and 1 cached set of {GONE} erased")

        # 4. Rotate the key.
        rotated = _ok(
            home.cli("rotate-erasure-key", extra_env={**env, "GDPR_ERASURE_NEW_KEY": NEW_KEY})
        )
        assert f"current key is now {key_id(NEW_KEY.encode())}" in rotated
        walk.step(
            "rotate the key",
            f"current {key_id(NEW_KEY.encode())}, retired {key_id(DEMO_KEY.encode())}",
        )

        # 5. The erased listener comes back in a late file: kept out.
        land("day2.jsonl", [GONE, GONE, KEPT], "2026-05-02")
        ingest("2026-05-04", env)
        assert (_plays(live_url, GONE), _plays(live_url, KEPT)) == (0, 3)
        walk.step("ingest the erased again", f"{GONE}: 0 of 2 late plays stored; {KEPT} 3")

        # 6. Lose the warehouse and Airflow's metadata DB.
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{live.database}" WITH (FORCE)'))
        (home.path / "airflow.db").unlink()
        walk.step("lose both databases", f"dropped {live.database}; deleted airflow.db")

        # 7. Restore from the object store alone; the keys from the environment.
        keys = {"conn_type": "generic", "password": NEW_KEY, "extra": {"retired_keys": [DEMO_KEY]}}
        lost_env = {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW_CONN_GDPR_ERASURE_KEY": json.dumps(keys),
        }
        into = restored.render_as_string(hide_password=False)
        restore = (
            "restore-warehouse",
            "--date",
            "latest",
            "--objects",
            objects_url,
            "--into",
            into,
        )
        refused = home.cli(*restore, extra_env={"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws)})
        assert refused.returncode == 1 and key_id(DEMO_KEY.encode()) in refused.stderr
        out = _ok(home.cli(*restore, extra_env=lost_env))
        assert "replayed 1 erasures (1 logged after the backup): 1 erased users found again" in out
        walk.step(
            "restore (store alone)",
            "without the keys: refused; with them: " + out.splitlines()[-2].split("; ", 2)[-1],
        )

        # 8. Nobody erased is anywhere.
        engine = create_engine(into)
        try:
            with engine.connect() as connection:
                place = Place(connection, None, cache)
                found = {s.name: s.find(place, GONE) for s in REGISTRY if s.kind != "object_store"}
        finally:
            engine.dispose()
        assert found == dict.fromkeys(found, 0)
        assert _plays(into, KEPT) == 2  # as backed up: day 2 came after the backup
        walk.step("verify", f"{GONE}: 0 items in {len(found)} restored stores and the cache")

        # 9. Re-run the families on the restored warehouse, twice: the same state.
        _ok(home.airflow("db", "migrate"))
        _ok(home.cli("apply-settings"))
        run_env = {**warehouse_env(restored), "AIRFLOW_CONN_GDPR_ERASURE_KEY": json.dumps(keys)}
        states = []
        for day in ("2026-05-05", "2026-05-06"):
            ingest(day, run_env)
            _ok(
                home.airflow(
                    "dags", "test", "gdpr_erasure", f"{day}T01:00:00+00:00", extra_env=run_env
                )
            )
            states.append(_business_state(into))
        assert states[0] == states[1]
        assert (_plays(into, GONE), _plays(into, KEPT)) == (0, 3)
        walk.step(
            "re-run families",
            f"listening_ingest + gdpr_erasure twice: identical state; {KEPT} 3 plays, {GONE} 0",
        )
    finally:
        cache.flushdb()
        cache.close()
        walk.save()
