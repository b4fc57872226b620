"""The quarantine: bad input is kept with its reason instead of being dropped.

A payload is stored losslessly (JSON, text or base64 bytes) with the source it came from, the field
that failed and the run that saw it, so it can be inspected, fixed and replayed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from spotify_agent.warehouse.schema import quarantine
from spotify_agent.warehouse.upsert import upsert


@dataclass(frozen=True)
class QuarantinedItem:
    source: str
    payload: Any
    reason: str
    field: str | None = None


@dataclass(frozen=True)
class RunRef:
    """Which run, task and trace saw the item."""

    dag_id: str
    run_id: str
    task_id: str
    trace_id: str


def encode_payload(payload: Any) -> tuple[str, str]:
    """``(encoding, text)`` for any payload, reversible by :func:`decode_payload`."""
    if isinstance(payload, bytes | bytearray):
        try:
            return encode_payload(bytes(payload).decode("utf-8"))
        except UnicodeDecodeError:
            return "base64", base64.b64encode(bytes(payload)).decode("ascii")
    if isinstance(payload, str):
        try:
            json.loads(payload)
        except ValueError:
            return "text", payload
        return "json", payload
    return "json", json.dumps(payload, sort_keys=True, default=str)


def decode_payload(encoding: str, text: str) -> Any:
    if encoding == "base64":
        return base64.b64decode(text)
    if encoding == "json":
        return json.loads(text)
    return text


def payload_sha256(payload: Any) -> str:
    """The digest that keys a payload in the quarantine (with its source)."""
    encoding, text = encode_payload(payload)
    return _digest(encoding, text)


def _digest(encoding: str, text: str) -> str:
    return hashlib.sha256(f"{encoding}:{text}".encode()).hexdigest()


def quarantine_items(
    connection: Connection, items: Iterable[QuarantinedItem], *, run: RunRef, at: datetime
) -> int:
    """Store ``items``; the same payload from the same source is kept once (re-runs are no-ops)."""
    rows = []
    for item in items:
        encoding, text = encode_payload(item.payload)
        rows.append(
            {
                "source": item.source,
                "payload_sha256": _digest(encoding, text),
                "payload_encoding": encoding,
                "payload": text,
                "reason": item.reason,
                "field": item.field,
                "dag_id": run.dag_id,
                "run_id": run.run_id,
                "task_id": run.task_id,
                "trace_id": run.trace_id,
                "quarantined_at": at,
            }
        )
    return upsert(connection, quarantine, rows, key=("source", "payload_sha256"))
