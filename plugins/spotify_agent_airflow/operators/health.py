"""HealthCheckOperator: measure every component, record the results, fail naming what is down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Variable, conf
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from spotify_agent.maintenance.confs import HealthCheckConf
from spotify_agent.maintenance.health import (
    ComponentHealth,
    HealthCheckFailed,
    check_airflow_api,
    check_backups,
    check_cache,
    check_celery_workers,
    check_database,
    check_disk_space,
    check_object_store,
    check_scheduler_heartbeat,
    check_spotify,
    check_warehouse,
    down_components,
    health_alerts,
    monitor_report,
    record_health,
    run_checks,
    scheduler_from_report,
)
from spotify_agent_airflow.audit import audit_action
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import trace_id_for
from spotify_agent_airflow.hooks.cache import CacheHook
from spotify_agent_airflow.hooks.warehouse import WarehouseHook
from spotify_agent_airflow.object_store import object_store_root
from spotify_agent_airflow.urls import api_base_url

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


def check_scheduler() -> ComponentHealth:
    """The scheduler's heartbeat: from the ``job`` table where this process may read it
    (``airflow dags test``), else as the API server reports it."""
    try:
        url = make_url(conf.get("database", "sql_alchemy_conn", fallback=""))
    except ArgumentError:
        return scheduler_from_report(*monitor_report(api_base_url()))
    threshold = conf.getint("scheduler", "scheduler_health_check_threshold", fallback=30)
    return check_scheduler_heartbeat(
        url, now=datetime.now(UTC), threshold=timedelta(seconds=threshold)
    )


CELERY_QUEUES_VARIABLE = "celery_queues"


def check_celery() -> ComponentHealth:
    """Workers answering on every queue named by the ``celery_queues`` variable (comma-separated,
    default ``default``); ``off`` unless the executor is the CeleryExecutor."""
    if "CeleryExecutor" not in (conf.get("core", "executor", fallback="") or ""):
        return check_celery_workers(None, [])
    from airflow.providers.celery.executors.celery_executor_utils import app

    queues = str(Variable.get(CELERY_QUEUES_VARIABLE, default="default"))
    return check_celery_workers(app, [q.strip() for q in queues.split(",") if q.strip()])


def _spotify_hook(conn_id: str) -> Any:
    # Imported here: the Spotify hook pulls in urllib3 and the payload models, which a DAG file
    # importing this operator should not pay for at parse time.
    from spotify_agent_airflow.hooks.spotify import SpotifyHook

    return SpotifyHook(conn_id)


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
            "scheduler": check_scheduler,
            "celery_workers": check_celery,
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
        paged, paging_failed = self._page(context, results)
        if down:
            raise HealthCheckFailed(down)
        if paging_failed:
            # An alert that cannot go out must not look like a healthy run: a refusal (4xx)
            # fails at once, an outage goes through the retries.
            raise paging_failed
        return {
            "rows_written": rows,
            "up": [r.component for r in results if r.status == "up"],
            "alerts_sent": paged,
        }

    def _page(self, context: Any, results: list[ComponentHealth]) -> tuple[int, Exception | None]:
        """Trigger an incident per component down, resolve the rest.

        Returns how many events PagerDuty took, and the error to fail with if it did not take
        them all (a refusal fails at once, an outage goes through the retries).
        """
        from spotify_agent.core.errors import PermanentFailure
        from spotify_agent.core.pagerduty import PagingFailed, PagingRefused
        from spotify_agent_airflow.hooks.pagerduty import PagerDutyHook

        hook = PagerDutyHook.if_configured()
        if hook is None:
            down = sum(r.status == "down" for r in results)
            log.info("paging is off (no pagerduty_default connection); %d components down", down)
            return 0, None
        events = health_alerts(results, source=f"airflow:{context['ti'].dag_id}")
        failed: list[str] = []
        refused = False
        for event in events:
            try:
                hook.send(event)
            except PagingFailed as error:
                log.error("PagerDuty %s", error)
                failed.append(str(error))
                refused = refused or isinstance(error, PagingRefused)
                continue
            log.info("PagerDuty %s %s", event.action, event.dedup_key)
        if not failed:
            return len(events), None
        message = "PagerDuty did not take: " + "; ".join(failed)
        return len(events) - len(failed), (
            PermanentFailure(message) if refused else RuntimeError(message)
        )

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
