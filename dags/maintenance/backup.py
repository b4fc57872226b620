"""
### backup

Daily backups of the warehouse and of Airflow's metadata database, each counting only once a
restore has proved it.

* **Dump**: PostgreSQL with `pg_dump` (custom format), SQLite with its online backup API. The
  row count and content checksum of every table are taken in the same snapshot as the dump.
* **Store**: `backups/<database>/<date>/<database>.<dump|sqlite>` in the object store (the date
  is the data interval's end: a re-run replaces that day's backup), with size and SHA-256.
* **Metadata DB** (`back_up_metadata`): needs an `airflow_metadata_db` connection (Airflow 3
  gives tasks no metadata-DB access); without one the task is skipped and says why. It is not
  held to `max_shrink_pct` (`log_rotation` cleans it on purpose).
* **Verify**: the stored object is downloaded again, its SHA-256 checked, restored into a scratch
  database (PostgreSQL: created next to the warehouse and dropped after, so the connection's user
  needs CREATEDB) and compared table by table. A mismatch records the backup as `failed` (never
  counted toward retention) and fails the run.
* **Alert**: an empty warehouse, or a backup with more than `max_shrink_pct` percent fewer rows
  than the previous verified one, fails the run after the backup is stored and verified. Rows
  count business data only: the audit log, health checks and backup records fill even when no
  data arrives, so they are left out.
* **Retention** (`apply_retention`): keeps the newest `keep_daily` verified backups, the newest of
  each of the last `keep_weekly` weeks and `keep_monthly` months, and always the newest verified
  one; failed backups go once a newer one is verified.
* **Restore**: `make restore DATE=YYYY-MM-DD` (see README).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import TriggerRule, dag

from spotify_agent.maintenance.confs import BackupConf
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.backup import (
    ApplyRetentionOperator,
    BackupDatabaseOperator,
)


@dag(
    schedule="@daily",
    **dag_args(BackupConf, deadline=timedelta(hours=2), execution_timeout=timedelta(hours=2)),
    tags=["maintenance", "backup"],
    doc_md=__doc__,
)
def backup() -> None:
    retention = ApplyRetentionOperator(
        task_id="apply_retention", trigger_rule=TriggerRule.NONE_FAILED
    )
    BackupDatabaseOperator(task_id="back_up_warehouse", database="warehouse") >> retention
    BackupDatabaseOperator(task_id="back_up_metadata", database="airflow_metadata") >> retention


backup()
