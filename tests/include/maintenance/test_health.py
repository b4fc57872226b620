from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from spotify_agent.maintenance.health import (
    ComponentHealth,
    HealthCheckFailed,
    check_airflow_api,
    check_cache,
    check_database,
    check_object_store,
    check_warehouse,
    down_components,
    measure,
    record_health,
)
from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.schema import health_checks


def test_migrated_warehouse_is_up_on_both_backends(warehouse, database_url: str) -> None:
    result = measure("warehouse", lambda: check_warehouse(database_url))
    assert result.status == "up", result.detail
    assert result.latency_ms is not None


def test_missing_sqlite_warehouse_is_down_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "warehouse.db"
    result = measure("warehouse", lambda: check_warehouse(f"sqlite:///{path}"))
    assert result.status == "down"
    assert str(path) in result.detail and "does not exist" in result.detail
    assert not path.exists()


def test_corrupt_sqlite_warehouse_is_down_with_the_database_error(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.db"
    path.write_bytes(b"this is not a database" * 100)
    result = measure("warehouse", lambda: check_warehouse(f"sqlite:///{path}"))
    assert result.status == "down"
    assert result.detail == "DatabaseError: file is not a database"


def test_unmigrated_warehouse_is_down_and_says_to_migrate(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:  # creates the SQLite file, but no schema
        connection.execute(text("SELECT 1"))
    engine.dispose()
    result = measure("warehouse", lambda: check_warehouse(database_url))
    assert result.status == "down"
    assert "schema at revision none" in result.detail and "make migrate" in result.detail


def test_unreachable_postgres_is_down_quickly(postgres_server_url: str) -> None:
    url = make_url(postgres_server_url).set(port=1)
    result = measure("metadata_db", lambda: check_database("metadata_db", url, connect_timeout_s=2))
    assert result.status == "down"
    assert "OperationalError" in result.detail
    assert result.latency_ms is not None and result.latency_ms < 5000


def test_local_object_store_round_trip_leaves_nothing_behind(tmp_path: Path) -> None:
    result = check_object_store(tmp_path, probe_name="run-1.txt")
    assert result.status == "up"
    assert list((tmp_path / "_health").iterdir()) == []


def test_s3_object_store_round_trip_through_a_real_s3_api(s3_server) -> None:
    assert check_object_store(_s3_root(s3_server), probe_name="run-1.txt").status == "up"
    # The bucket is shared by the session's tests: look under this check's own prefix.
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="health-test/")
    assert listed.get("KeyCount", 0) == 0


def test_missing_bucket_is_down_and_not_created(s3_server) -> None:
    missing = _s3_root(s3_server, bucket="no-such-bucket")
    result = measure("object_store", lambda: check_object_store(missing, probe_name="x"))
    assert result.status == "down"
    buckets = [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]
    assert "no-such-bucket" not in buckets


def _s3_root(s3_server, bucket: str | None = None):
    from upath import UPath

    return UPath(
        f"s3://{bucket or s3_server.bucket}/health-test",
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    )


def test_cache_up_off_and_down(redis_url: str) -> None:
    assert check_cache(redis.Redis.from_url(redis_url)).status == "up"
    assert check_cache(None).status == "off"
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    result = measure("cache", lambda: check_cache(dead))
    assert result.status == "down" and "ConnectionError" in result.detail


def test_failure_message_names_every_down_component() -> None:
    results = [
        ComponentHealth("warehouse", "down", "DatabaseError: file is not a database"),
        ComponentHealth("object_store", "up", "file:///x"),
        ComponentHealth("cache", "down", "ConnectionError: refused"),
    ]
    error = HealthCheckFailed(down_components(results))
    assert str(error) == (
        "health check failed, down: warehouse, cache "
        "(warehouse: DatabaseError: file is not a database; cache: ConnectionError: refused)"
    )


def test_recording_twice_for_the_same_run_keeps_one_row_per_component(warehouse) -> None:
    at = datetime(2026, 11, 26, tzinfo=UTC)
    first = [
        ComponentHealth("warehouse", "up", "ok", 3),
        ComponentHealth("cache", "down", "refused", 1),
    ]
    retry = [
        ComponentHealth("warehouse", "up", "ok", 2),
        ComponentHealth("cache", "up", "PING ok", 1),
    ]
    with warehouse.begin() as connection:
        record_health(connection, first, run_id="r", trace_id="c" * 32, measured_at=at)
        record_health(connection, retry, run_id="r", trace_id="c" * 32, measured_at=at)
    with warehouse.connect() as connection:
        rows = connection.execute(
            select(health_checks.c.component, health_checks.c.status).order_by(
                health_checks.c.component
            )
        ).all()
    assert [tuple(r) for r in rows] == [("cache", "up"), ("warehouse", "up")]


class _MonitorServer:
    """A real HTTP server on loopback answering /api/v2/monitor/health like Airflow's API server."""

    def __init__(self, report: dict[str, object]) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps(report).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                found = self.path == "/api/v2/monitor/health"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if found else b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_metadata_db_through_the_api_server_monitor() -> None:
    healthy = _MonitorServer(
        {
            "metadatabase": {"status": "healthy"},
            "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "x"},
        }
    )
    unhealthy = _MonitorServer({"metadatabase": {"status": "unhealthy"}})
    try:
        up = check_airflow_api(healthy.url)
        assert up.status == "up"
        assert (
            up.detail
            == f"via {healthy.url}/api/v2/monitor/health: metadatabase healthy; scheduler healthy"
        )
        assert check_airflow_api(unhealthy.url + "/").status == "down"
    finally:
        healthy.close()
        unhealthy.close()
    result = measure("metadata_db", lambda: check_airflow_api("http://127.0.0.1:1", timeout_s=2))
    assert result.status == "down" and "ConnectError" in result.detail
