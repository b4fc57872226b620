"""HealthCheckOperator: measure every component, record the results, fail naming what is down.
The job is :func:`spotify_agent.maintenance.health_check.check_health`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from spotify_agent.maintenance.confs import HealthCheckConf
from spotify_agent_airflow.operators.common import WarehouseOperator

if TYPE_CHECKING:
    from spotify_agent.maintenance.health_check import HealthPorts
    from spotify_agent_airflow.hooks.warehouse import WarehouseHook

log = logging.getLogger(__name__)


class HealthCheckOperator(WarehouseOperator):
    """Checks warehouse, object store, cache (when configured), the Airflow metadata DB and Spotify.

    Results go to the ``health_checks`` table (one row per component, replaced on retry). If the
    warehouse itself is down they are still logged, and the task fails naming every component that
    is down, so a retry re-measures and the alert says what to fix.
    """

    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        spotify_conn_id: str = "spotify_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spotify_conn_id = spotify_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.maintenance.health_check import check_health
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.conf import read_conf
        from spotify_agent_airflow.hooks.pagerduty import PagerDutyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        run_conf = read_conf(context, HealthCheckConf)
        warehouse = WarehouseHook(self.warehouse_conn_id)
        checked = check_health(
            warehouse.get_engine,
            run_conf.components,
            self._ports(warehouse),
            attempt_of(context),
            pager=PagerDutyHook.if_configured,
        )
        log.info("%s", checked.summary_line())
        return checked.as_result()

    def _ports(self, warehouse: WarehouseHook) -> HealthPorts:
        """Each component's port, built from its hook only when its check runs."""
        from spotify_agent.maintenance.health_check import HealthPorts
        from spotify_agent_airflow.health_probes import (
            check_celery,
            check_metadata_db,
            check_scheduler,
            spotify_hook,
            task_volumes,
        )
        from spotify_agent_airflow.hooks.cache import CacheHook
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.object_store import object_store_root

        return HealthPorts(
            warehouse_url=lambda: warehouse.url,
            objects=object_store_root,
            cache=lambda: CacheHook().client if CacheHook.enabled() else None,
            spotify=lambda: spotify_hook(self.spotify_conn_id),
            volumes=task_volumes,
            keyring=erasure_keyring,
            metadata_db=check_metadata_db,
            scheduler=check_scheduler,
            celery_workers=check_celery,
        )
