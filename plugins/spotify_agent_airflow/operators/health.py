"""HealthCheckOperator: measure every component, record the results, fail naming what is down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from spotify_agent.maintenance.confs import HealthCheckConf

if TYPE_CHECKING:
    from spotify_agent.maintenance.health import ComponentHealth
    from spotify_agent_airflow.hooks.warehouse import WarehouseHook

log = logging.getLogger(__name__)


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
        from spotify_agent.maintenance.health import (
            HealthCheckFailed,
            check_backups,
            check_cache,
            check_disk_space,
            check_erasure_keys,
            check_object_store,
            check_spotify,
            check_warehouse,
            down_components,
            run_checks,
        )
        from spotify_agent_airflow.conf import read_conf
        from spotify_agent_airflow.health_probes import (
            check_celery,
            check_metadata_db,
            check_scheduler,
            spotify_hook,
            task_volumes,
        )
        from spotify_agent_airflow.hooks.cache import CacheHook
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

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
            "spotify": lambda: check_spotify(spotify_hook(self.spotify_conn_id)),
            "backups": lambda: check_backups(warehouse.url, now=datetime.now(UTC)),
            "disk_space": lambda: check_disk_space(task_volumes()),
            "erasure_keys": lambda: check_erasure_keys(warehouse.url, erasure_keyring()),
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
        from spotify_agent.maintenance.health import health_alerts
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
        from spotify_agent.maintenance.health import record_health
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import trace_id_for

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
