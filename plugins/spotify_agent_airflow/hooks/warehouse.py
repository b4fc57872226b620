"""WarehouseHook: a SQLAlchemy engine for the warehouse connection (SQLite or PostgreSQL)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from spotify_agent import project_dir
from spotify_agent.warehouse.engine import make_engine, url_from_connection
from spotify_agent_airflow.tracing import trace_db_calls

# One engine (and pool) per database per process, shared by tasks and the audit listener.
_ENGINES: dict[str, Engine] = {}


def warehouse_url(connection: Any) -> URL:
    """SQLAlchemy URL of an Airflow connection (Task SDK or core ``Connection``)."""
    return url_from_connection(
        connection.conn_type or "",
        host=connection.host,
        schema=connection.schema,
        login=connection.login,
        password=connection.password,
        port=connection.port,
        extra=connection.extra_dejson,
        base_dir=project_dir(),
    )


def shared_engine(url: URL) -> Engine:
    key = url.render_as_string(hide_password=False)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = make_engine(url)
        trace_db_calls(engine)
    return engine


class WarehouseHook(BaseHook):
    """Reads ``warehouse_default`` (type ``sqlite`` or ``postgres``) and builds the engine lazily.

    A relative SQLite path is resolved under the project folder, so the same connection works on
    a laptop, in Astro and in the Docker image.
    """

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "warehouse_default"
    conn_type = "warehouse"
    hook_name = "Warehouse"

    def __init__(self, warehouse_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    @cached_property
    def url(self) -> URL:
        return warehouse_url(self.get_connection(self.warehouse_conn_id))

    def get_engine(self) -> Engine:
        return shared_engine(self.url)

    def test_connection(self) -> tuple[bool, str]:
        from spotify_agent.maintenance.health import check_warehouse, measure

        result = measure("warehouse", lambda: check_warehouse(self.url))
        return result.status == "up", result.detail
