"""Run deadlines that page: a run not finished in time pages PagerDuty; the next one on time
resolves it.

A DAG declares how long a run may take from being queued::

    @dag(..., **dag_args(SomeConf, deadline=timedelta(hours=2)))  # spotify_agent_airflow.defaults

which spreads ``run_deadline(timedelta(hours=2))`` into it. That gives it an Airflow deadline alert (``DeadlineReference.DAGRUN_QUEUED_AT`` + the interval)
and a DAG success callback. The scheduler notices the miss and an executor runs
:func:`page_missed_deadline`, which triggers an incident under
``spotify-agent/deadline/<dag_id>``: one key per DAG, so a job late every hour is one incident.
A later run that succeeds within its deadline (counted from its start: Airflow does not give
the success callback the queue time) resolves it; a late success does not. Backfill runs are
not paged (a backfill queues all its runs at once).

Airflow only creates deadlines for runs that are queued (scheduled, REST API and UI triggers):
``airflow dags test`` creates its run already running, so nothing is paged there (and the DAG
is parsed without its deadline there, see ``_in_dags_test``). A run that
failed before its deadline is not paged again for lateness: its failing task already paged.
Without a ``pagerduty_default`` connection nothing is sent. Airflow calls deadline alerts
experimental in 3.3.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

DEADLINE_DEDUP_PREFIX = "spotify-agent/deadline/"


def deadline_dedup_key(dag_id: str) -> str:
    return f"{DEADLINE_DEDUP_PREFIX}{dag_id}"


def run_deadline(within: timedelta) -> dict[str, Any]:
    """``@dag`` keyword arguments: page when a run takes longer than ``within`` from being
    queued to finishing, resolve when a run finishes within it again."""
    # Public as ``airflow.sdk.DeadlineAlert`` etc., but missing from 3.3.2's type stub.
    from airflow.sdk.definitions.callback import SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    if within <= timedelta(0):
        raise ValueError(f"a run deadline must be positive, got {within}")
    resolve = {"on_success_callback": [DeadlineMetNotifier(within)]}
    if _in_dags_test():
        return resolve
    alert = DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=within,
        callback=SyncCallback(page_missed_deadline),
    )
    return {"deadline": alert, **resolve}


def _in_dags_test() -> bool:
    """True in an ``airflow dags test`` process. Airflow 3.3.2's ``dags test`` crashes at the end
    of a successful run of a DAG that has a deadline (``DagRun.update_state`` looks the DAG's
    alerts up by id, but ``DAG.test`` holds them unsaved: ``'dict' object has no attribute
    'hex'``). A deadline never fires there anyway (the run is never queued), so it is left out."""
    return sys.argv[1:3] == ["dags", "test"]


def page_missed_deadline(context: dict[str, Any]) -> None:
    """Deadline callback (runs on an executor, not in a task): trigger the DAG's incident."""
    from spotify_agent.core.pagerduty import PagingFailed

    event = missed_deadline_alert(context)
    if event is None:
        return
    from spotify_agent_airflow.hooks.pagerduty import PagerDutyHook

    hook = PagerDutyHook.if_configured()
    if hook is None:
        log.warning("paging is off: %s", event.summary)
        return
    try:
        hook.send(event)
    except PagingFailed as error:
        # Raised, not logged away: Airflow then marks the deadline's callback failed.
        raise RuntimeError(f"PagerDuty did not take the missed deadline: {error}") from None
    log.info("PagerDuty trigger %s", event.dedup_key)


def missed_deadline_alert(context: dict[str, Any]) -> Any:
    """The trigger event for a missed deadline (``context`` as Airflow gives it to the deadline
    callback: ``dag_run`` and ``deadline``), or ``None`` when the run already failed."""
    from spotify_agent.core.pagerduty import AlertEvent

    dag_run, deadline = context["dag_run"], context["deadline"]
    state = str(dag_run.get("state") or "")
    if state == "failed":
        log.info("run %s failed before its deadline; its task paged", dag_run["dag_run_id"])
        return None
    if dag_run.get("run_type") == "backfill":
        # A backfill queues all its runs at once; the person who started it watches it.
        log.info("backfill run %s missed its deadline: not paged", dag_run["dag_run_id"])
        return None
    dag_id, run_id = dag_run["dag_id"], dag_run["dag_run_id"]
    return AlertEvent(
        "trigger",
        deadline_dedup_key(dag_id),
        summary=(
            f"{dag_id} run {run_id} missed its deadline ({deadline['deadline_time']}); "
            f"queued at {dag_run.get('queued_at')}, {state or 'unknown state'} when it passed"
        ),
        source=f"airflow:{dag_id}",
        severity="warning",
        component="deadline",
        group=dag_id,
        details={
            "run_id": run_id,
            "state": state,
            "queued_at": str(dag_run.get("queued_at")),
            "deadline_time": str(deadline["deadline_time"]),
            "trace_id": _trace_id(dag_run),
        },
    )


def _trace_id(dag_run: dict[str, Any]) -> str:
    from spotify_agent.core.trace import run_trace_id

    given = (dag_run.get("conf") or {}).get("trace_id")
    return run_trace_id(given, dag_id=dag_run["dag_id"], run_id=dag_run["dag_run_id"])


class DeadlineMetNotifier:
    """DAG success callback: resolve the DAG's deadline incident when this run finished within
    its deadline. A plain callable (not a ``BaseNotifier``): it reads no templates."""

    def __init__(self, within: timedelta) -> None:
        self.within = within

    def __call__(self, context: Any) -> None:
        from spotify_agent.core.pagerduty import AlertEvent, PagingFailed
        from spotify_agent_airflow.hooks.pagerduty import PagerDutyHook

        dag_run = context.get("dag_run")
        if _in_dags_test() or dag_run is None:  # no deadline was set / no run to judge
            return
        # The callback's run (from the API server) has no ``queued_at``. ``start_date`` follows
        # it within a scheduler loop unless the run waited for a slot; ``run_after`` would be
        # days early for an Asset-triggered run held back by ``max_active_runs``.
        started = getattr(dag_run, "start_date", None) or dag_run.run_after
        finished = getattr(dag_run, "end_date", None) or datetime.now(UTC)
        if finished - started > self.within:
            log.info("run %s finished after its deadline: not resolving", dag_run.run_id)
            return
        hook = PagerDutyHook.if_configured()
        if hook is None:
            return
        key = deadline_dedup_key(dag_run.dag_id)
        try:
            hook.send(AlertEvent("resolve", key))
        except PagingFailed as error:
            log.error("PagerDuty %s", error)
            return
        log.info("PagerDuty resolve %s", key)
