"""What ``health_check`` probes beyond ``spotify_agent.maintenance.health``: Airflow's own parts.

Apart from the operator so the DAG file, which imports the operator, does not import every
check's dependencies at parse time (``bench/parse_time.py``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Variable, conf
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from spotify_agent.maintenance.health import (
    ComponentHealth,
    check_airflow_api,
    check_celery_workers,
    check_database,
    check_scheduler_heartbeat,
    monitor_report,
    scheduler_from_report,
)
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


def spotify_hook(conn_id: str) -> Any:
    # Imported here: the Spotify hook pulls in urllib3 and the payload models, which a DAG file
    # importing this operator should not pay for at parse time.
    from spotify_agent_airflow.hooks.spotify import SpotifyHook

    return SpotifyHook(conn_id)


def task_volumes() -> dict[str, str]:
    """Where tasks write: Airflow's logs and the temporary folder (backups are staged there)."""
    import tempfile

    logs = conf.get("logging", "base_log_folder", fallback="") or tempfile.gettempdir()
    Path(logs).mkdir(parents=True, exist_ok=True)
    return {"logs": logs, "tmp": tempfile.gettempdir()}
