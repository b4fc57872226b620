"""Tasks of ``log_rotation``: rotate task logs, clean Airflow's metadata database. The log job
is :func:`spotify_agent.maintenance.log_rotation.rotate_task_logs`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, conf

from spotify_agent.maintenance.confs import LogRotationConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class RotateLogsOperator(WarehouseOperator):
    """Gzips old task logs, archives them in the object store, deletes old local archives."""

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.maintenance.log_rotation import rotate_task_logs
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.object_store import object_store_root

        run_conf = read_conf(context, LogRotationConf)
        # Disk space is about now, not about the run's data interval: the job's clock is its own.
        rotated = rotate_task_logs(
            self.warehouse_engine(),
            Path(conf.get("logging", "base_log_folder")),
            object_store_root(),
            run_conf,
            attempt_of(context),
        )
        log.info("%s", rotated.summary_line())
        return rotated.counts


class CleanMetadataOperator(BaseOperator):
    """Runs ``airflow db clean`` against the metadata DB named by ``airflow_metadata_db``.

    Airflow 3 keeps task processes away from the metadata database, so the job needs its URL
    from a connection of its own; without one, the cleanup is skipped (and says why).
    """

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent_airflow.hooks.metadata import metadata_db_url, skip_reason

        run_conf = read_conf(context, LogRotationConf)
        url = metadata_db_url()
        if url is None:
            raise AirflowSkipException(skip_reason("Airflow metadata cleanup"))
        before = datetime.now(UTC) - timedelta(days=run_conf.metadata_retention_days)
        command = [
            str(Path(sys.executable).with_name("airflow")),
            "db",
            "clean",
            "--clean-before-timestamp",
            before.isoformat(),
            "--skip-archive",
            "--yes",
        ]
        if run_conf.dry_run:
            command.append("--dry-run")
        env = {
            **os.environ,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url.render_as_string(hide_password=False),
        }
        completed = subprocess.run(  # noqa: S603 - our interpreter's airflow, fixed arguments
            command, env=env, capture_output=True, text=True, check=False, timeout=3600
        )
        for line in (completed.stdout + completed.stderr).splitlines()[-40:]:
            log.info("db clean: %s", line)
        if completed.returncode != 0:
            raise RuntimeError(f"airflow db clean exited {completed.returncode}")
        return {"clean_before": before.isoformat(), "dry_run": run_conf.dry_run}
