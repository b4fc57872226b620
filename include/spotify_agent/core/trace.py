"""Trace ids: one per DAG run, given by the caller or derived from the run id.

The format is the W3C / OpenTelemetry trace id (32 lowercase hex digits, not all zero), so the same
value can tag logs, metrics, spans, Sentry events, audit rows and object metadata.
"""

from __future__ import annotations

import hashlib
import re

# Plain enough for JSON Schema (Params) and pydantic alike; the all-zero id is refused in code.
TRACE_ID_PATTERN = r"^[0-9a-f]{32}$"
_TRACE_ID_RE = re.compile(TRACE_ID_PATTERN)
_INVALID_TRACE_ID = "0" * 32


class InvalidTraceId(ValueError):
    """A caller-supplied trace id that is not 32 lowercase hex digits."""


def is_valid_trace_id(value: str) -> bool:
    return bool(_TRACE_ID_RE.match(value)) and value != _INVALID_TRACE_ID


def derive_trace_id(dag_id: str, run_id: str) -> str:
    """A stable trace id for a run that was not given one: the same run always gets the same id."""
    return hashlib.sha256(f"{dag_id}\x1f{run_id}".encode()).hexdigest()[:32]


def resolve_trace_id(given: str | None, *, dag_id: str, run_id: str) -> str:
    """The caller's trace id when present (validated), else one derived from the run."""
    if given is None or given == "":
        return derive_trace_id(dag_id, run_id)
    if not is_valid_trace_id(given):
        raise InvalidTraceId(
            f"trace_id {given!r} is not a trace id: expected 32 lowercase hex digits, not all zero"
        )
    return given


def run_trace_id(given: object, *, dag_id: str, run_id: str) -> str:
    """The trace id a run's records carry, read from its conf's ``trace_id``: the caller's when
    it is valid, else the derived one. A bad one is the conf validation's to report (the run is
    refused); the refusal's own audit row, log lines and pages still need an id."""
    if isinstance(given, str) and (given == "" or is_valid_trace_id(given)):
        return resolve_trace_id(given, dag_id=dag_id, run_id=run_id)
    return derive_trace_id(dag_id, run_id)
