"""Hooks read everything from Airflow connections (here given as AIRFLOW_CONN_* variables)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from spotify_agent.warehouse.migrate import head_revision
from spotify_agent_airflow.hooks.cache import CacheHook
from spotify_agent_airflow.hooks.warehouse import WarehouseHook
from tests.conftest import redis_connection

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_relative_sqlite_warehouse_resolves_under_the_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _connection(monkeypatch, "wh_relative", conn_type="sqlite", host="var/warehouse.db")
    assert WarehouseHook("wh_relative").url.database == str(PROJECT_DIR / "var" / "warehouse.db")


def test_postgres_warehouse_url_keeps_credentials_and_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _connection(
        monkeypatch,
        "wh_pg",
        conn_type="postgres",
        host="db.internal",
        port=6543,
        login="etl",
        password="p@ss:word/1",  # pragma: allowlist secret
        schema="warehouse",
        extra={"sslmode": "require"},
    )
    url = WarehouseHook("wh_pg").url
    assert (url.drivername, url.host, url.port, url.username, url.database) == (
        "postgresql+psycopg2",
        "db.internal",
        6543,
        "etl",
        "warehouse",
    )
    assert url.password == "p@ss:word/1"  # pragma: allowlist secret
    assert url.query == {"sslmode": "require"}
    assert "p@ss" not in str(url)  # the rendered URL hides the password


def test_warehouse_connection_test_reports_real_state(
    monkeypatch: pytest.MonkeyPatch, warehouse, database_url: str
) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _connection(monkeypatch, "wh_live", conn_type="sqlite", host=url.database)
    else:
        _connection(
            monkeypatch,
            "wh_live",
            conn_type="postgres",
            host=url.host,
            port=url.port,
            login=url.username,
            schema=url.database,
        )
    ok, message = WarehouseHook("wh_live").test_connection()
    assert ok, message
    assert head_revision() in message


def test_unknown_warehouse_type_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, "wh_mysql", conn_type="mysql", host="x")
    with pytest.raises(ValueError, match="'mysql'"):
        _ = WarehouseHook("wh_mysql").url


def test_cache_hook_talks_to_real_redis(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    _connection(monkeypatch, "cache_live", **redis_connection(redis_url))
    hook = CacheHook("cache_live")
    assert hook.test_connection() == (True, "PING ok")
    hook.client.set("spotify-agent-test:key", "v", ex=10)
    assert hook.client.get("spotify-agent-test:key") == b"v"


def test_cache_hook_gives_up_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, "cache_dead", conn_type="redis", host="127.0.0.1", port=1)
    ok, message = CacheHook("cache_dead", timeout_s=1).test_connection()
    assert not ok and "ConnectionError" in message
