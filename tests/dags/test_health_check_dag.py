"""health_check end to end with `airflow dags test`, as a developer and `make demo` run it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.migrate import upgrade
from spotify_agent.warehouse.schema import audit_log, health_checks
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.conftest import redis_connection
from tests.receivers import run_pagerduty_receiver


@pytest.fixture(scope="module")
def spotify() -> Iterator[EmulatorHandle]:
    with run_emulator() as emulator:
        yield emulator


def _run(
    airflow_home,
    conf: dict[str, object],
    extra_env: dict[str, str] | None = None,
    spotify: EmulatorHandle | None = None,
):
    env = dict(extra_env or {})
    if spotify is not None:
        env.setdefault("AIRFLOW_CONN_SPOTIFY_DEFAULT", json.dumps(spotify.connection()))
    return airflow_home.airflow(
        "dags", "test", "health_check", "--conf", json.dumps(conf), extra_env=env
    )


def _rows(url: str, trace_id: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        health = dict(
            connection.execute(
                select(health_checks.c.component, health_checks.c.status).where(
                    health_checks.c.trace_id == trace_id
                )
            ).all()
        )
        audit = [
            tuple(row)
            for row in connection.execute(
                select(audit_log.c.action, audit_log.c.outcome)
                .where(audit_log.c.trace_id == trace_id)
                .order_by(audit_log.c.id)
            )
        ]
    engine.dispose()
    return health, audit


def _fresh_backup_record(url: str) -> None:
    """A backup verified just now, as the backup DAG leaves it (the object is not needed here)."""
    from datetime import UTC, date, datetime

    from spotify_agent.maintenance.backup_store import BackupRecord, record_backup

    engine = make_engine(url)
    with engine.begin() as connection:
        record_backup(
            connection,
            BackupRecord("warehouse", date(2025, 12, 31), "backups/x", 1, "0" * 64, {}, "verified"),
            run_id="health-test",
            trace_id="0" * 31 + "1",
            at=datetime.now(UTC),
        )
    engine.dispose()


def test_embedded_default_run_records_health_and_audit_under_the_callers_trace_id(
    airflow_home, spotify
) -> None:
    trace_id = secrets.token_hex(16)
    _fresh_backup_record(f"sqlite:///{airflow_home.warehouse_path}")
    result = _run(airflow_home, {"trace_id": trace_id}, spotify=spotify)
    assert result.returncode == 0, result.stdout[-4000:]
    health, audit = _rows(f"sqlite:///{airflow_home.warehouse_path}", trace_id)
    assert health == {
        "warehouse": "up",
        "object_store": "up",
        "cache": "off",
        "metadata_db": "up",
        "scheduler": "off",  # `airflow dags test`: no scheduler runs
        "celery_workers": "off",  # not the CeleryExecutor
        "spotify": "up",
        "backups": "up",
        "disk_space": "up",
        "erasure_keys": "up",  # the demo key; nothing erased under another
    }
    assert audit == [("health_recorded", "up"), ("task_attempt", "success")]
    # The trace id is bound into the task's log lines.
    assert f"trace_id={trace_id}" in result.stdout
    assert not list((airflow_home.objects_path / "_health").iterdir())


def test_production_like_setup_postgres_s3_and_redis(
    airflow_home, postgres_database, s3_server, redis_url, spotify
) -> None:
    pg = make_url(postgres_database)
    engine = make_engine(postgres_database)
    upgrade(engine)
    engine.dispose()
    env = {
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps(
            {
                "conn_type": "postgres",
                "host": pg.host,
                "port": pg.port,
                "login": pg.username,
                "schema": pg.database,
            }
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",  # pragma: allowlist secret
                "extra": {"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
            }
        ),
        "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(redis_connection(redis_url)),
        "AIRFLOW_VAR_OBJECT_STORE_URL": f"s3://{s3_server.bucket}/prod-like",
        "AIRFLOW_VAR_CACHE_BACKEND": "redis",
    }
    trace_id = secrets.token_hex(16)
    result = _run(airflow_home, {"trace_id": trace_id}, extra_env=env, spotify=spotify)
    assert result.returncode == 0, result.stdout[-4000:]
    health, audit = _rows(postgres_database, trace_id)
    assert health == {
        "warehouse": "up",
        "object_store": "up",
        "cache": "up",
        "metadata_db": "up",
        "scheduler": "off",  # `airflow dags test`: no scheduler runs
        "celery_workers": "off",  # not the CeleryExecutor
        "spotify": "up",
        "backups": "off",  # a new warehouse: the backup DAG has not run yet
        "disk_space": "up",
        "erasure_keys": "up",
    }
    assert ("task_attempt", "success") in audit


def test_unreadable_warehouse_fails_naming_it_after_retries(airflow_home, tmp_path: Path) -> None:
    corrupt = tmp_path / "warehouse.db"
    corrupt.write_bytes(b"not a database, just bytes" * 200)
    env = {
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps({"conn_type": "sqlite", "host": str(corrupt)})
    }
    result = _run(airflow_home, {"components": ["warehouse", "object_store"]}, extra_env=env)
    assert result.returncode != 0
    assert (
        "health check failed, down: warehouse (warehouse: DatabaseError: file is not a database)"
        in result.stdout
    )
    # Retried as configured (2 retries), each attempt re-measuring.
    assert result.stdout.count("health check failed, down: warehouse") >= 3


def test_a_component_down_is_named_paged_and_resolved_when_it_recovers(
    airflow_home, spotify
) -> None:
    key = "spotify-agent/health/spotify"
    wrong_secret = {
        "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(spotify.connection(client_secret="wrong"))
    }
    with run_pagerduty_receiver() as pagerduty:
        paging = {"AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(pagerduty.connection())}
        down = _run(
            airflow_home,
            {"components": ["spotify", "disk_space"]},
            extra_env={**paging, **wrong_secret},
        )
        assert down.returncode != 0
        assert "health check failed, down: spotify (spotify: SpotifyOauthError" in down.stdout
        assert "invalid_client" in down.stdout
        # Every attempt re-measures and triggers again under the same key: one incident.
        assert set(pagerduty.by_key(key)) == {"trigger"}
        assert pagerduty.events[0]["payload"]["summary"].startswith(
            "spotify is down: SpotifyOauthError"
        )
        assert "trigger" not in pagerduty.by_key("spotify-agent/health/disk_space")

        # Spotify is back, but PagerDuty refuses the resolve (wrong routing key): the run fails
        # at once naming it, without printing the key (the receiver echoes it back).
        refused_env = {
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(
                pagerduty.connection(routing_key="not-the-right-key")
            )
        }
        refused = _run(
            airflow_home, {"components": ["spotify"]}, extra_env=refused_env, spotify=spotify
        )
        assert refused.returncode != 0
        assert f"PagerDuty did not take: resolve {key}: HTTP 400" in refused.stdout
        assert "not-the-right-key" not in refused.stdout
        assert "Retry policy decision" in refused.stdout and "action=fail" in refused.stdout

        before = len(pagerduty.by_key(key))
        up = _run(airflow_home, {"components": ["spotify"]}, extra_env=paging, spotify=spotify)
        assert up.returncode == 0, up.stdout[-4000:]
        assert pagerduty.by_key(key)[before:] == ["resolve"]


def test_conf_outside_the_params_is_refused_before_the_run(airflow_home) -> None:
    result = _run(airflow_home, {"components": ["disk"]})
    assert result.returncode != 0
    assert "Invalid input for param components" in result.stdout + result.stderr
    assert "'disk' is not one of" in result.stdout + result.stderr


def test_undeclared_conf_key_fails_the_task_once_naming_it(airflow_home) -> None:
    result = _run(airflow_home, {"components": ["cache"], "component": "typo"})
    assert result.returncode != 0
    assert (
        "invalid run conf for HealthCheckConf: component: Extra inputs are not permitted"
        in result.stdout
    )
    assert result.stdout.count("Extra inputs are not permitted") <= 3, (
        "bad conf must not be retried"
    )
