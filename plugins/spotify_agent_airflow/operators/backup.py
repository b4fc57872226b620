"""Tasks of ``backup``: back up and verify the warehouse, then apply the retention policy.
The job is :func:`spotify_agent.maintenance.backup_job.back_up_database`, then
:func:`spotify_agent.maintenance.backup_job.apply_backup_retention`."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.maintenance.confs import BackupConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end
from spotify_agent_airflow.operators.common import WarehouseOperator, progress_every_s

log = logging.getLogger(__name__)

# The databases with a connection to back up (warehouse_default, airflow_metadata_db).
DATABASES = ("warehouse", "airflow_metadata")


class BackupDatabaseOperator(WarehouseOperator):
    """Dumps a database, stores it, restores the stored copy into a scratch database, compares.

    ``database`` is ``warehouse`` (the ``warehouse_default`` connection) or ``airflow_metadata``
    (the ``airflow_metadata_db`` connection; skipped without one). Records go to the warehouse.
    """

    def __init__(
        self,
        *,
        database: str = "warehouse",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if database not in DATABASES:
            raise ValueError(f"database must be one of {DATABASES}, not {database!r}")
        self.database = database

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent.maintenance.backup_job import back_up_database
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.metadata import metadata_db_url, skip_reason
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, BackupConf)
        hook = WarehouseHook(self.warehouse_conn_id)
        source = hook.url if self.database == "warehouse" else metadata_db_url()
        if source is None:
            raise AirflowSkipException(skip_reason("the metadata DB backup"))
        outcome = back_up_database(
            hook.get_engine(),
            source,
            object_store_root(),
            database=self.database,
            day=interval_end(context).date(),
            conf=conf,
            attempt=attempt_of(context),
            every_s=progress_every_s(),
        )
        log.info("%s", outcome.summary_line())
        return outcome.as_result()


class ApplyRetentionOperator(WarehouseOperator):
    """Deletes the backups the policy no longer keeps (never the newest verified one)."""

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.maintenance.backup_job import apply_backup_retention
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, BackupConf)
        engine = self.warehouse_engine()
        retention = apply_backup_retention(
            engine, object_store_root(), DATABASES, conf, attempt_of(context)
        )
        log.info("%s", retention.summary_line())
        return retention.as_result()
