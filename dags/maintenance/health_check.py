"""
### health_check

Every 10 minutes, checks what every other family depends on and records the answer:

| component | up when |
|---|---|
| `warehouse` | `warehouse_default` opens read-only and its schema is at the code's migration head |
| `object_store` | a probe object can be written, read back and deleted under `object_store_url` |
| `cache` | Redis (`redis_default`) answers PING; `off` when the `cache_backend` variable is `none` |
| `metadata_db` | the Airflow metadata database answers `SELECT 1` (in scheduled runs, where Airflow 3 blocks database access from tasks, the API server's `/api/v2/monitor/health` says it is healthy) |
| `scheduler` | a running scheduler's heartbeat is within `[scheduler] scheduler_health_check_threshold` (from the API server's report in scheduled runs; `off` when no scheduler runs, as under `airflow dags test`) |
| `celery_workers` | Celery workers answer a broadcast and every queue in the `celery_queues` variable (default `default`) has one consuming it; `off` unless the executor is the CeleryExecutor |
| `spotify` | `spotify_default` gets a token and answers one search call |
| `backups` | the newest verified warehouse backup is under 26 h old (`off` before the first backup) |
| `disk_space` | the logs and temporary volumes keep at least 10% free |

One row per component and run goes to the `health_checks` table. The task fails with a message
naming every component that is down (for example `down: warehouse (DatabaseError: file is not a
database)`); retries re-measure. Trigger it by hand with `components` to check a subset.

**Paging** (with a `pagerduty_default` connection): a component down triggers a PagerDuty
incident under a stable dedup key (`spotify-agent/health/<component>`), so every run that still
finds it down updates one incident; every run that finds it up or off resolves it (PagerDuty
drops a resolve with nothing open, so none is ever lost). An event PagerDuty refuses (wrong
routing key) fails the run at once, naming it; an unreachable PagerDuty goes through retries.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.maintenance.confs import HealthCheckConf
from spotify_agent_airflow.defaults import SPOTIFY_POOL, dag_args
from spotify_agent_airflow.operators.health import HealthCheckOperator


@dag(
    schedule="*/10 * * * *",
    **dag_args(
        HealthCheckConf,
        deadline=timedelta(minutes=5),
        retries=2,
        retry_delay=timedelta(seconds=15),
        max_retry_delay=timedelta(minutes=1),
        execution_timeout=timedelta(minutes=2),
    ),
    dagrun_timeout=timedelta(minutes=9),
    tags=["maintenance", "health"],
    doc_md=__doc__,
)
def health_check() -> None:
    # It makes one Spotify call, so it queues in the Spotify pool like every Spotify task, ahead of
    # long batches (a late health check is a false alarm).
    HealthCheckOperator(task_id="check_components", pool=SPOTIFY_POOL, priority_weight=100)


health_check()
