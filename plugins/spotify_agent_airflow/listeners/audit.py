"""Audit listener: one ``audit_log`` row per task attempt, and the trace id bound into log lines.

Runs inside the task process (Airflow 3 calls task-instance listeners from the task runner). A
broken warehouse must not fail the task it observes, so errors are logged, not raised; the
``health_check`` DAG is what reports the warehouse down.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.listeners import hookimpl
from structlog.contextvars import bind_contextvars

from spotify_agent.core.audit import TASK_ATTEMPT, AuditRecord, write_audit
from spotify_agent_airflow.metrics import emit_action_metrics
from spotify_agent_airflow.sentry import enrich_task_scope
from spotify_agent_airflow.tracing import end_task_span, start_task_span

log = logging.getLogger(__name__)


@hookimpl
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    context = _context(task_instance)
    if context is not None:
        trace_id = _trace_id(context)
        # Every log line of the attempt names it; with [logging] json_logs they are JSON keys.
        bind_contextvars(
            trace_id=trace_id,
            dag_id=task_instance.dag_id,
            task_id=task_instance.task_id,
            run_id=task_instance.run_id,
            try_number=task_instance.try_number,
        )
        try:
            enrich_task_scope(context, trace_id)
        except Exception:  # noqa: BLE001 - error reporting must not fail the task it reports on
            log.exception("could not tag the task's Sentry scope")
        try:
            start_task_span(context, trace_id)
        except Exception:  # noqa: BLE001 - nor may tracing
            log.exception("could not open the task's span")


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _record(task_instance, "success")


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    # Called for attempts that will be retried too; the state tells them apart.
    state = getattr(task_instance, "state", None)
    outcome = "up_for_retry" if getattr(state, "value", state) == "up_for_retry" else "failed"
    _record(task_instance, outcome, detail=_one_line(error), error=error)


@hookimpl
def on_task_instance_skipped(previous_state: Any, task_instance: Any) -> None:
    _record(task_instance, "skipped")


def _record(
    task_instance: Any, outcome: str, *, detail: str | None = None, error: Any = None
) -> None:
    try:
        end_task_span(outcome, error)
    except Exception:  # noqa: BLE001 - tracing must not fail the task
        log.exception("could not close the task's span")
    context = _context(task_instance)
    if context is None:  # a state change made through the API server, not a task attempt
        return
    now = datetime.now(UTC)
    started = getattr(task_instance, "start_date", None)
    duration_ms = round((now - started).total_seconds() * 1000) if started else None
    try:
        # Sent before the audit row and apart from it: a run failing because the warehouse is
        # down still shows up in the metrics.
        counts = (
            {"attempts": 1} if duration_ms is None else {"attempts": 1, "duration_ms": duration_ms}
        )
        emit_action_metrics(context, TASK_ATTEMPT, counts, {"outcome": outcome})
    except Exception:  # noqa: BLE001 - metrics never fail the task
        log.exception("could not send the attempt's metrics")
    try:
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        record = AuditRecord(
            action=TASK_ATTEMPT,
            dag_id=task_instance.dag_id,
            run_id=task_instance.run_id,
            task_id=task_instance.task_id,
            map_index=task_instance.map_index if task_instance.map_index is not None else -1,
            try_number=task_instance.try_number,
            trace_id=_trace_id(context),
            actor=str(getattr(task_instance.task, "owner", "") or ""),
            outcome=outcome,
            occurred_at=now,
            duration_ms=duration_ms,
            detail=detail,
        )
        with WarehouseHook().get_engine().begin() as connection:
            write_audit(connection, [record])
    except Exception:
        log.exception("could not write the audit row for %s", task_instance.task_id)


def _context(task_instance: Any) -> Any:
    get_context = getattr(task_instance, "get_template_context", None)
    return get_context() if get_context is not None else None


def _trace_id(context: Any) -> str:
    from spotify_agent_airflow.context import trace_id_for

    return trace_id_for(context)


def _one_line(error: Any) -> str | None:
    if error is None:
        return None
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return " ".join(text.split())[:2000]
