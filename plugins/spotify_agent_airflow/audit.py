"""Domain-action audit rows from inside a task ("health recorded", "playlist changed", ...)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, event

from spotify_agent.core.audit import AuditRecord, write_audit
from spotify_agent_airflow.context import trace_id_for
from spotify_agent_airflow.metrics import emit_action_metrics


def audit_action(
    connection: Connection,
    context: Any,
    action: str,
    *,
    outcome: str = "done",
    counts: Mapping[str, int] | None = None,
    entity_type: str = "",
    entity_key: str = "",
    detail: str | None = None,
) -> None:
    """Record ``action`` for this task attempt in the same transaction as the work it describes."""
    ti = context["ti"]
    write_audit(
        connection,
        [
            AuditRecord(
                action=action,
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index if ti.map_index is not None else -1,
                try_number=ti.try_number,
                trace_id=trace_id_for(context),
                actor=ti.task_id,
                outcome=outcome,
                occurred_at=datetime.now(UTC),
                counts=counts,
                entity_type=entity_type,
                entity_key=entity_key,
                detail=detail,
            )
        ],
    )
    if counts:
        # Metrics describe work that happened: sent once the transaction commits, never for a
        # rolled-back attempt.
        event.listen(
            connection,
            "commit",
            lambda _connection: emit_action_metrics(context, action, counts),
            once=True,
        )
