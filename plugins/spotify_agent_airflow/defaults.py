"""Shared DAG defaults: one place for owner, retries, timeouts, run deadlines, Params and the
approved tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.deadlines import run_deadline
from spotify_agent_airflow.notifiers import PagerDutyTaskNotifier
from spotify_agent_airflow.retry import ProjectRetryPolicy

OWNER = "data-platform"
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

# Tags group DAGs in the UI and route alerts; the policy tests refuse anything else.
APPROVED_TAGS = frozenset(
    {
        "spotify",
        "ml",
        "analytics",
        "maintenance",
        "ingest",
        "content",
        "reporting",
        "gdpr",
        "health",
        "backup",
    }
)

SPOTIFY_POOL = "spotify_api"


def dag_args(
    conf_model: type[RunConf], *, deadline: timedelta, **task_defaults: Any
) -> dict[str, Any]:
    """The ``@dag`` keyword arguments every DAG of this project shares, spread into ``@dag`` next
    to what is the DAG's own (``schedule``, ``tags``, ``doc_md``)::

        @dag(
            schedule="@daily",
            **dag_args(BackupConf, deadline=timedelta(hours=2), execution_timeout=timedelta(hours=2)),
            tags=["maintenance", "backup"],
            doc_md=__doc__,
        )

    Runs from ``START_DATE`` without catching up missed intervals, one at a time; a run still
    going ``deadline`` after it was queued pages (:func:`run_deadline`); the tasks get
    :func:`default_args` with ``task_defaults`` over them; the Params come from ``conf_model``
    (:func:`conf_params`).
    """
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        **run_deadline(deadline),
        "default_args": default_args(**task_defaults),
        "params": conf_params(conf_model),
    }


def default_args(**overrides: Any) -> dict[str, Any]:
    """``default_args`` for every DAG: retries with exponential backoff, a hard timeout, and the
    project's retry policy (``RetryLater`` waits as asked, ``PermanentFailure`` fails at once).

    Override per DAG where the job's rhythm differs (a 10-minute health check retries faster).
    """
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=30),
        # Honours a service's Retry-After and fails fast on errors retrying cannot fix.
        "retry_policy": ProjectRetryPolicy(),
        # A task that fails for good pages PagerDuty (when configured); its next success resolves.
        "on_failure_callback": [PagerDutyTaskNotifier("trigger")],
        "on_success_callback": [PagerDutyTaskNotifier("resolve")],
    }
    args.update(overrides)
    scale = retry_delay_scale()
    if scale != 1.0:
        for name in ("retry_delay", "max_retry_delay"):
            args[name] = args[name] * scale
    return args


def retry_delay_scale() -> float:
    """``[spotify_agent] retry_delay_scale`` (``AIRFLOW__SPOTIFY_AGENT__RETRY_DELAY_SCALE``):
    multiplies every DAG's retry delays. 1 in deployments; the tests set 0.01 so a job that
    fails through its retries does so in seconds, with the same number of attempts."""
    from airflow.sdk import conf

    scale = conf.getfloat("spotify_agent", "retry_delay_scale", fallback=1.0)
    if not 0 < scale <= 1:
        raise ValueError(f"[spotify_agent] retry_delay_scale: {scale} is not in (0, 1]")
    return scale
