"""Domain-action audit rows from inside a task ("health recorded", "playlist changed", ...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from spotify_agent.core.audit import Attempt
from spotify_agent_airflow.context import trace_id_for
from spotify_agent_airflow.metrics import emit_action_metrics


def attempt_of(context: Any) -> Attempt:
    """The task attempt of ``context``, for the use cases in ``include/``: its audit rows name
    this run, task, try and trace, and its counts become metrics once they commit."""
    ti = context["ti"]
    return Attempt(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        trace_id=trace_id_for(context),
        task_id=ti.task_id,
        map_index=ti.map_index if ti.map_index is not None else -1,
        try_number=ti.try_number,
        on_committed=lambda action, counts: emit_action_metrics(context, action, counts),
    )


def audit_action(connection: Connection, context: Any, action: str, **details: Any) -> None:
    """Record ``action`` for this task attempt in the same transaction as the work it describes
    (``details``: :meth:`Attempt.record`'s outcome, counts, entity and detail)."""
    attempt_of(context).record(connection, action, **details)
