"""backup end to end with `airflow dags test` on the embedded default (SQLite, local store)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.migrate import upgrade
from spotify_agent.warehouse.schema import audit_log, backups
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.receivers import StatsdReceiver, run_statsd_receiver
from tests.statsd_mapping import assert_every_line_maps


def _backups(warehouse_path) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{warehouse_path}")
    with engine.connect() as connection:
        rows = [
            dict(row)
            for row in connection.execute(
                select(backups).order_by(backups.c.backup_date)
            ).mappings()
        ]
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def statsd() -> Iterator[StatsdReceiver]:
    """What the module's first run sends to statsd (only that run is pointed at it)."""
    with run_statsd_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def first_backup(airflow_home, statsd):
    # Self-contained: the session's warehouse may be empty when this module runs alone.
    with sqlite3.connect(airflow_home.warehouse_path) as connection:
        connection.executemany(
            "INSERT OR IGNORE INTO watched_artists VALUES (?, '2026-01-31 00:00:00', 'seed', 1)",
            [(f"backup{n:016d}",) for n in range(40)],
        )
    result = airflow_home.airflow("dags", "test", "backup", "2026-02-01", extra_env=statsd.env())
    assert result.returncode == 0, result.stdout[-4000:]
    return result


def test_the_warehouse_is_backed_up_verified_and_recorded(airflow_home, first_backup) -> None:
    (row,) = [
        r for r in _backups(airflow_home.warehouse_path) if str(r["backup_date"]) == "2026-02-01"
    ]
    assert row["status"] == "verified"
    assert row["object_key"] == "backups/warehouse/2026-02-01/warehouse.sqlite"
    stored = airflow_home.objects_path / str(row["object_key"])
    assert stored.stat().st_size == row["size_bytes"]
    with sqlite3.connect(stored) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {
            name for (name,) in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"listening_events", "audit_log", "alembic_version"} <= tables
    assert set(row["tables"]) == tables


def test_the_backups_size_reaches_the_dashboard(first_backup, statsd, tmp_path) -> None:
    series = assert_every_line_maps(statsd.lines)
    assert_queries_return_data(panel_queries("Latest verified backup"), series, tmp_path)


def test_re_running_the_day_replaces_its_backup(airflow_home, first_backup) -> None:
    result = airflow_home.airflow("dags", "test", "backup", "2026-02-01")
    assert result.returncode == 0, result.stdout[-4000:]
    days = [str(r["backup_date"]) for r in _backups(airflow_home.warehouse_path)]
    assert days.count("2026-02-01") == 1


def test_an_empty_warehouse_fails_the_run_after_storing_it(airflow_home, tmp_path) -> None:
    empty = tmp_path / "empty-warehouse.db"
    engine = make_engine(f"sqlite:///{empty}")
    upgrade(engine)
    engine.dispose()
    env = {
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps({"conn_type": "sqlite", "host": str(empty)})
    }
    result = airflow_home.airflow("dags", "test", "backup", "2026-02-10", extra_env=env)
    assert result.returncode != 0
    assert "is empty: the warehouse holds no rows" in result.stdout
    engine = create_engine(f"sqlite:///{empty}")
    with engine.connect() as connection:
        stored = connection.execute(select(backups.c.status, backups.c.total_rows)).all()
        actions = (
            connection.execute(select(audit_log.c.action).where(audit_log.c.action.like("backup%")))
            .scalars()
            .all()
        )
    engine.dispose()
    assert [tuple(row) for row in stored] == [("verified", 0)]
    assert actions == ["backup_verified"]


def test_a_warehouse_that_lost_most_rows_fails_the_run(
    airflow_home, first_backup, tmp_path
) -> None:
    import shutil

    shrunk = tmp_path / "shrunk-warehouse.db"
    shutil.copyfile(airflow_home.warehouse_path, shrunk)
    with sqlite3.connect(shrunk) as connection:
        # Every business row gone but one (the audit log and other bookkeeping do not count).
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if name not in ("alembic_version", "audit_log", "backups", "health_checks")
        ]
        for table in tables:
            connection.execute(f'DELETE FROM "{table}"')  # noqa: S608 - names from the schema
        connection.execute(
            "INSERT INTO watched_artists VALUES ('backup0000000000000099', '2026-02-10', 'x', 1)"
        )
    env = {
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps({"conn_type": "sqlite", "host": str(shrunk)})
    }
    result = airflow_home.airflow(
        "dags",
        "test",
        "backup",
        "2026-02-11",
        "--conf",
        json.dumps({"max_shrink_pct": 10}),
        extra_env=env,
    )
    assert result.returncode != 0
    assert "fewer than the previous verified backup's" in result.stdout


def test_bad_retention_conf_is_refused_before_the_run(airflow_home) -> None:
    result = airflow_home.airflow(
        "dags", "test", "backup", "2026-02-12", "--conf", json.dumps({"keep_daily": 0})
    )
    assert result.returncode != 0
    assert "Invalid input for param keep_daily" in result.stdout + result.stderr


def test_a_verified_backup_restores_beside_the_warehouse(
    airflow_home, first_backup, tmp_path
) -> None:
    target = tmp_path / "restored.db"
    result = airflow_home.cli(
        "restore-warehouse", "--date", "2026-02-01", "--into", f"sqlite:///{target}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every table matched its manifest; replayed" in result.stdout
    assert not target.with_name("restored.db.partial").exists()
    with sqlite3.connect(target) as restored:
        seeded = restored.execute(
            "SELECT count(*) FROM watched_artists WHERE artist_id LIKE 'backup%'"
        ).fetchone()[0]
    assert seeded == 40

    again = airflow_home.cli(
        "restore-warehouse", "--date", "2026-02-01", "--into", f"sqlite:///{target}"
    )
    assert again.returncode != 0 and "exists" in again.stderr

    missing = airflow_home.cli("restore-warehouse", "--date", "2025-01-01")
    assert missing.returncode != 0
    assert "no verified warehouse backup of 2025-01-01" in missing.stderr

    listing = airflow_home.cli("restore-warehouse")
    assert listing.returncode == 0 and "2026-02-01" in listing.stdout
    manifest = json.loads(
        (airflow_home.objects_path / "backups/warehouse/2026-02-01/manifest.json").read_text()
    )
    assert manifest["format_version"] == 1 and manifest["status"] == "verified"
    assert manifest["tables"]["watched_artists"]["rows"] >= 40


def test_the_airflow_metadata_db_is_backed_up_when_its_connection_exists(
    airflow_home, first_backup
) -> None:
    env = airflow_home.metadata_db_env()
    result = airflow_home.airflow("dags", "test", "backup", "2026-02-03", extra_env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    rows = {
        (r["database"], str(r["backup_date"])): r for r in _backups(airflow_home.warehouse_path)
    }
    meta = rows[("airflow_metadata", "2026-02-03")]
    assert meta["status"] == "verified"
    assert meta["object_key"] == "backups/airflow_metadata/2026-02-03/airflow_metadata.sqlite"
    assert {"dag_run", "task_instance"} <= set(meta["tables"])
    # Without the connection (the first run) the metadata backup was skipped, saying why.
    assert "no airflow_metadata_db connection: the metadata DB backup is off" in first_backup.stdout
