"""Task alerts to PagerDuty (Events API v2), wired into every DAG by ``default_args()``.

A task that fails for good (its retries spent, or a permanent failure) triggers an incident
under ``spotify-agent/task/<dag_id>/<task_id>``: the same key for every run, so a task failing
every hour is one incident, not twenty-four. The task's next success resolves it. Mapped tasks
share their task's key and do not resolve it (one map index succeeding says nothing about the
others); a later unmapped success or a person does.

Without a ``pagerduty_default`` connection nothing is sent. A notifier never fails the task:
a PagerDuty error is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

TASK_DEDUP_PREFIX = "spotify-agent/task/"


def task_dedup_key(dag_id: str, task_id: str) -> str:
    return f"{TASK_DEDUP_PREFIX}{dag_id}/{task_id}"


class PagerDutyTaskNotifier(BaseNotifier):
    """``trigger`` (for ``on_failure_callback``) or ``resolve`` (for ``on_success_callback``)."""

    def __init__(self, action: Literal["trigger", "resolve"]) -> None:
        super().__init__()
        self.action = action

    def notify(self, context: Any) -> None:
        from spotify_agent.core.pagerduty import PagingFailed
        from spotify_agent_airflow.hooks.pagerduty import PagerDutyHook

        ti = context["ti"]
        if self.action == "resolve" and ti.map_index not in (None, -1):
            return
        hook = PagerDutyHook.if_configured()
        if hook is None:
            return
        event = task_alert(context, self.action)
        try:
            hook.send(event)
        except PagingFailed as error:
            log.error("PagerDuty %s", error)
            return
        log.info("PagerDuty %s %s", event.action, event.dedup_key)


def task_alert(context: Any, action: Literal["trigger", "resolve"]) -> Any:
    """The event for this task instance (``context`` as Airflow passes it to callbacks)."""
    from spotify_agent.core.pagerduty import AlertEvent
    from spotify_agent_airflow.context import trace_id_for

    ti = context["ti"]
    key = task_dedup_key(ti.dag_id, ti.task_id)
    if action == "resolve":
        return AlertEvent("resolve", key)
    # The task SDK's masker (3.3 has no public ``redact``): secrets Airflow knows of (connection
    # passwords, sensitive variables) must not leave in an error message.
    from airflow.sdk._shared.secrets_masker import redact

    error = context.get("exception")
    reason = f"{type(error).__name__}: {error}" if error is not None else "no exception recorded"
    reason = str(redact(reason))
    return AlertEvent(
        "trigger",
        key,
        summary=f"{ti.dag_id}.{ti.task_id} failed: {reason}",
        source=f"airflow:{ti.dag_id}",
        severity="error",
        component=ti.task_id,
        group=ti.dag_id,
        details={
            "run_id": ti.run_id,
            "try_number": ti.try_number,
            "map_index": ti.map_index,
            "trace_id": trace_id_for(context),
        },
    )
