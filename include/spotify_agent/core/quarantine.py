"""The quarantine: bad input is kept with its reason instead of being dropped.

A payload is stored losslessly (JSON, text or base64 bytes) with the source it came from, the field
that failed and the run that saw it, so it can be inspected, fixed and replayed.

A record larger than :data:`MAX_INLINE_BYTES` is not copied into the row: it is written once to the
object store as ``quarantine/<sha256 of its bytes>`` and the row keeps the key, the size and the
SHA-256 (a caller without an object store keeps it inline). Every row also names the listener the
record is about when one can be parsed from it (``user_id``), so an erasure finds offloaded records
without reading them. Reasons name the field and the problem, never the payload.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from spotify_agent.core.objects import ensure_parent
from spotify_agent.warehouse.schema import quarantine
from spotify_agent.warehouse.upsert import upsert

# Records above this go to the object store, referenced from the row (64 KiB: any real event or
# API object is far smaller; a runaway line of megabytes stays out of the warehouse and backups).
MAX_INLINE_BYTES = 64 * 1024
OFFLOAD_PREFIX = "quarantine"
# A reason is a field and a problem; anything longer is cut (it never needs the payload).
MAX_REASON_CHARS = 1000
# The width of user id columns (spotify_agent.warehouse.schema).
MAX_USER_ID_CHARS = 128
_JSON_USER = re.compile(r'"user_id"\s*:\s*"([^"\\]{1,128})"')
# The aggregation sets aside a play of a track the catalogue does not know under the source
# "<AGGREGATION_SOURCE>:<day>" with the reason UNKNOWN_TRACK; the ingest reads them back to re-run
# those days once the catalogue learns the track (spotify_agent.spotify.track_lookup).
AGGREGATION_SOURCE = "streaming_aggregation"
UNKNOWN_TRACK = "unknown_track"


@dataclass(frozen=True)
class QuarantinedItem:
    source: str
    payload: Any
    reason: str
    field: str | None = None
    # The listener the record is about, when the caller knows it; else parsed from the payload.
    user_id: str | None = None


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


def listener_of(payload: Any, *, text: str | None = None) -> str | None:
    """The user id a record names: its ``user_id`` field, or the first ``"user_id": "..."`` in
    a broken JSON line; None when there is none (or it is too long to be an id)."""
    if isinstance(payload, Mapping):
        value = payload.get("user_id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = str(value)
            return value if 0 < len(value) <= MAX_USER_ID_CHARS else None
        return None
    if text is None:
        if isinstance(payload, bytes | bytearray):
            text = bytes(payload).decode("utf-8", errors="replace")
        elif isinstance(payload, str):
            text = payload
        else:
            return None
    match = _JSON_USER.search(text)
    return match.group(1) if match else None


def quarantine_items(
    connection: Connection,
    items: Iterable[QuarantinedItem],
    *,
    run: RunRef,
    at: datetime,
    objects: Any | None = None,
) -> int:
    """Store ``items``; the same payload from the same source is kept once (re-runs are no-ops).

    With ``objects`` (the object store root), records over :data:`MAX_INLINE_BYTES` are written
    there and referenced; without it they stay inline.
    """
    rows = []
    for item in items:
        encoding, text = encode_payload(item.payload)
        record = base64.b64decode(text) if encoding == "base64" else text.encode()
        row = {
            "source": item.source,
            "payload_sha256": _digest(encoding, text),
            "payload_encoding": encoding,
            "payload": text,
            "payload_size_bytes": len(record),
            "payload_object_key": None,
            "payload_object_sha256": None,
            "user_id": item.user_id or listener_of(item.payload, text=text),
            "reason": _short(item.reason),
            "field": item.field,
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "task_id": run.task_id,
            "trace_id": run.trace_id,
            "quarantined_at": at,
        }
        if objects is not None and len(record) > MAX_INLINE_BYTES:
            row.update(_offload(objects, record))
        rows.append(row)
    return upsert(connection, quarantine, rows, key=("source", "payload_sha256"))


def stored_payload(row: Mapping[str, Any], objects: Any | None = None) -> Any:
    """The payload of a quarantine row, read back from the object store when it was offloaded."""
    if row["payload_object_key"] is None:
        return decode_payload(row["payload_encoding"], row["payload"])
    if objects is None:
        raise ValueError(f"{row['payload_object_key']} is in the object store: pass its root")
    record = (objects / row["payload_object_key"]).read_bytes()
    if row["payload_encoding"] == "base64":
        return record
    return decode_payload(row["payload_encoding"], record.decode())


def _offload(objects: Any, record: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(record).hexdigest()
    key = f"{OFFLOAD_PREFIX}/{digest}"
    path = objects / key
    # Content-addressed: a record seen again (another source, a re-run) is written once.
    if not path.exists():
        ensure_parent(path)
        path.write_bytes(record)
    # The row keeps no copy: no preview either, as it could hold what cannot be parsed.
    return {"payload": "", "payload_object_key": key, "payload_object_sha256": digest}


def _short(reason: str) -> str:
    if len(reason) <= MAX_REASON_CHARS:
        return reason
    return reason[: MAX_REASON_CHARS - 14] + f" ... ({len(reason):,} chars)"
