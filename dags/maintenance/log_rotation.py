"""
### log_rotation

Keeps the Airflow deployment's own house clean, daily.

* **Task logs** (`[logging] base_log_folder`): logs older than `compress_after_days` are gzipped
  beside themselves and archived in the object store under `logs/airflow/<same path>.gz`; the
  original goes once the stored copy is complete. Local archives older than `keep_local_days`
  are deleted once the object store holds them. A re-run, or a run after a crash, does only what
  is left; the audit row says how many bytes were freed.
* **Metadata** (`airflow db clean --skip-archive`): runs, task instances, XCom, logs older than
  `metadata_retention_days`. Task processes have no metadata-DB access in Airflow 3, so this
  step needs an `airflow_metadata_db` connection (same URL as `sql_alchemy_conn`); without one
  it is skipped and says so. `dry_run: true` only reports what would go.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.maintenance.confs import LogRotationConf
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.log_rotation import (
    CleanMetadataOperator,
    RotateLogsOperator,
)


@dag(
    schedule="@daily",
    **dag_args(LogRotationConf, deadline=timedelta(hours=1), execution_timeout=timedelta(hours=1)),
    tags=["maintenance"],
    doc_md=__doc__,
)
def log_rotation() -> None:
    RotateLogsOperator(task_id="rotate_task_logs")
    CleanMetadataOperator(task_id="clean_metadata")


log_rotation()
