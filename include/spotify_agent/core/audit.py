"""Audit records: one row per task attempt (written by the Airflow listener) and per domain action.

Rows answer "what happened in run X" and "what happened to entity Y". They never hold raw personal
data: pass identifiers of people through :func:`pseudonymise` before they become an ``entity_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

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
