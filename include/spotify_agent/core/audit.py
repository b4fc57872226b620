"""Audit records: one row per task attempt (written by the Airflow listener) and per domain action.

Rows answer "what happened in run X" and "what happened to entity Y". They never hold raw personal
data: pass identifiers of people through :func:`pseudonymise` before they become an ``entity_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, event

from spotify_agent.core.quarantine import QuarantinedItem, RunRef, quarantine_items
from spotify_agent.warehouse.schema import audit_log
from spotify_agent.warehouse.upsert import upsert

TASK_ATTEMPT = "task_attempt"
_KEY = ("dag_id", "run_id", "task_id", "map_index", "try_number", "action", "entity_key")


@dataclass(frozen=True)
class AuditRecord:
    action: str
    dag_id: str
    run_id: str
    trace_id: str
    outcome: str
    occurred_at: datetime
    task_id: str = ""
    map_index: int = -1
    try_number: int = 0
    actor: str = ""
    duration_ms: int | None = None
    entity_type: str = ""
    entity_key: str = ""
    counts: Mapping[str, int] | None = field(default=None)
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("AuditRecord.occurred_at must be timezone-aware (UTC)")


def write_audit(connection: Connection, records: Iterable[AuditRecord]) -> int:
    """Write ``records``; writing the same attempt or action again replaces its row."""
    rows: list[dict[str, Any]] = []
    for record in records:
        row = asdict(record)
        row["counts"] = dict(record.counts) if record.counts is not None else None
        rows.append(row)
    return upsert(connection, audit_log, rows, key=_KEY)


def pseudonymise(identifier: str, *, namespace: str) -> str:
    """A stable, irreversible key for a personal identifier (e.g. a user id) in audit rows."""
    return hashlib.sha256(f"{namespace}\x1f{identifier}".encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """The task attempt a job acts for: every action it records and every item it sets aside
    names this run, task and trace. Operators build it from Airflow's context
    (``spotify_agent_airflow.audit.attempt_of``); tests and scripts build it directly."""

    dag_id: str
    run_id: str
    trace_id: str
    task_id: str = ""
    map_index: int = -1
    try_number: int = 0
    # Told each recorded action and its counts once the transaction commits (metrics describe
    # work that happened, never a rolled-back attempt's).
    on_committed: Callable[[str, Mapping[str, int]], None] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def run(self) -> RunRef:
        return RunRef(self.dag_id, self.run_id, self.task_id, self.trace_id)

    def record(
        self,
        connection: Connection,
        action: str,
        *,
        outcome: str = "done",
        counts: Mapping[str, int] | None = None,
        entity_type: str = "",
        entity_key: str = "",
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Audit ``action`` in the transaction of the work it describes."""
        write_audit(
            connection,
            [
                AuditRecord(
                    action=action,
                    dag_id=self.dag_id,
                    run_id=self.run_id,
                    task_id=self.task_id,
                    map_index=self.map_index,
                    try_number=self.try_number,
                    trace_id=self.trace_id,
                    actor=self.task_id,
                    outcome=outcome,
                    occurred_at=at or datetime.now(UTC),
                    counts=counts,
                    entity_type=entity_type,
                    entity_key=entity_key,
                    detail=detail,
                )
            ],
        )
        if counts and self.on_committed is not None:
            told, done = self.on_committed, dict(counts)
            event.listen(connection, "commit", lambda _c: told(action, done), once=True)


def record_write(
    connection: Connection,
    attempt: Attempt,
    action: str,
    *,
    counts: Mapping[str, int],
    quarantined: Iterable[QuarantinedItem] = (),
    objects: Any | None = None,
    outcome: str = "done",
    entity_type: str = "",
    entity_key: str = "",
    detail: str | None = None,
    at: datetime | None = None,
) -> dict[str, int]:
    """How every job ends its write, in the caller's transaction: the bad items set aside (each
    kept once, large ones in ``objects``), then the action audited with its counts and the number
    quarantined (added to ``counts["quarantined"]`` when there are any). Returns those counts.
    A rolled-back transaction leaves neither."""
    at = at or datetime.now(UTC)
    items = list(quarantined)
    done = dict(counts)
    if items:
        set_aside = quarantine_items(connection, items, run=attempt.run, at=at, objects=objects)
        done["quarantined"] = done.get("quarantined", 0) + set_aside
    attempt.record(
        connection,
        action,
        outcome=outcome,
        counts=done,
        entity_type=entity_type,
        entity_key=entity_key,
        detail=detail,
        at=at,
    )
    return done
