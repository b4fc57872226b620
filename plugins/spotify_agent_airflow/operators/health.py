"""HealthCheckOperator: measure every component, record the results, fail naming what is down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, conf
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from spotify_agent.maintenance.confs import HealthCheckConf
from spotify_agent.maintenance.health import (
    ComponentHealth,
    HealthCheckFailed,
    check_airflow_api,
    check_backups,
    check_cache,
    check_database,
    check_disk_space,
    check_object_store,
    check_spotify,
    check_warehouse,
    down_components,
    record_health,
    run_checks,
)
from spotify_agent_airflow.audit import audit_action
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import trace_id_for
from spotify_agent_airflow.hooks.cache import CacheHook
from spotify_agent_airflow.hooks.warehouse import WarehouseHook
from spotify_agent_airflow.object_store import object_store_root

log = logging.getLogger(__name__)


def check_metadata_db() -> ComponentHealth:
    """Ask the metadata DB directly where this process may (``airflow dags test``), else the API server.

    Task processes started by a scheduler get a deliberately unusable ``sql_alchemy_conn``.
    """
    try:
        url = make_url(conf.get("database", "sql_alchemy_conn", fallback=""))
    except ArgumentError:
        return check_airflow_api(api_base_url())
    return check_database("metadata_db", url)


def _spotify_hook(conn_id: str) -> Any:
    # Imported here: the Spotify hook pulls in urllib3 and the payload models, which a DAG file
    # importing this operator should not pay for at parse time.
    from spotify_agent_airflow.hooks.spotify import SpotifyHook

    return SpotifyHook(conn_id)


def api_base_url() -> str:
    """The API server's base URL: ``[api] base_url``, else the execution API's host."""
    base = conf.get("api", "base_url", fallback="") or ""
    if base:
        return base
    execution = conf.get("core", "execution_api_server_url", fallback="") or ""
    return execution.removesuffix("/").removesuffix("/execution") or "http://localhost:8080"


def _task_volumes() -> dict[str, str]:
    """Where tasks write: Airflow's logs and the temporary folder (backups are staged there)."""
    import tempfile

    logs = conf.get("logging", "base_log_folder", fallback="") or tempfile.gettempdir()
    Path(logs).mkdir(parents=True, exist_ok=True)
    return {"logs": logs, "tmp": tempfile.gettempdir()}


class HealthCheckOperator(BaseOperator):
    """Checks warehouse, object store, cache (when configured), the Airflow metadata DB and Spotify.

    Results go to the ``health_checks`` table (one row per component, replaced on retry). If the
    warehouse itself is down they are still logged, and the task fails naming every component that
    is down, so a retry re-measures and the alert says what to fix.
    """

    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        warehouse_conn_id: str = "warehouse_default",
        spotify_conn_id: str = "spotify_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.spotify_conn_id = spotify_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        run_conf = read_conf(context, HealthCheckConf)
        warehouse = WarehouseHook(self.warehouse_conn_id)
        probe_name = f"{context['ti'].run_id}.txt".replace(":", "_").replace("+", "_")
        available: dict[str, Callable[[], ComponentHealth]] = {
            "warehouse": lambda: check_warehouse(warehouse.url),
            "object_store": lambda: check_object_store(object_store_root(), probe_name=probe_name),
            "cache": lambda: check_cache(CacheHook().client if CacheHook.enabled() else None),
            "metadata_db": check_metadata_db,
            "spotify": lambda: check_spotify(_spotify_hook(self.spotify_conn_id)),
            "backups": lambda: check_backups(warehouse.url, now=datetime.now(UTC)),
            "disk_space": lambda: check_disk_space(_task_volumes()),
        }
        results = run_checks({name: available[name] for name in run_conf.components})
        for result in results:
            log.info(
                "%-12s %-4s %6s ms  %s",
                result.component,
                result.status,
                result.latency_ms if result.latency_ms is not None else "-",
                result.detail,
            )

        down = down_components(results)
        rows = self._record(context, warehouse, results, down)
        if down:
            raise HealthCheckFailed(down)
        return {"rows_written": rows, "up": [r.component for r in results if r.status == "up"]}

    def _record(
        self,
        context: Any,
        warehouse: WarehouseHook,
        results: list[ComponentHealth],
        down: list[ComponentHealth],
    ) -> int:
        try:
            with warehouse.get_engine().begin() as connection:
                rows = record_health(
                    connection,
                    results,
                    run_id=context["ti"].run_id,
                    trace_id=trace_id_for(context),
                    measured_at=datetime.now(UTC),
                )
                audit_action(
                    connection,
                    context,
                    "health_recorded",
                    outcome="down" if down else "up",
                    counts={"rows_written": rows, "components_down": len(down)},
                    detail=", ".join(r.component for r in down) or None,
                )
                return rows
        except Exception:
            if not any(r.component == "warehouse" for r in down):
                raise
            log.exception("warehouse is down: results above were not recorded")
            return 0
