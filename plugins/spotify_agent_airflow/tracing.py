"""An OpenTelemetry span per task attempt, in the run's own trace, exported over OTLP/HTTP.

Airflow 3.3 gives every run a random trace id of its own and emits no task span under
``airflow dags test``; our runs already have a trace id (the caller's, or one derived from the
run id) that logs, metrics, Sentry and audit rows carry. So the audit listener opens a span for
each attempt whose trace id *is* that id (a remote parent), making a backend's trace, our logs
and the spans one thread. Outgoing Spotify calls (``record_http_span``) and warehouse statements
(``trace_db_calls``) are child spans.

On when ``[traces] otel_on`` is true. Endpoint: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else ``http://<otel_host>:<otel_port>/v1/traces``
from ``[traces]``. Spans are exported in batches and flushed when the attempt ends (a task
process is short-lived, and one HTTP request per statement would slow the task down).
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

SERVICE_NAME = "spotify-agent-airflow"
_current: dict[str, Any] = {}


def traces_endpoint() -> str | None:
    from airflow.sdk import conf

    if not conf.getboolean("traces", "otel_on", fallback=False):
        return None
    if endpoint := os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return endpoint
    if base := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return base.rstrip("/") + "/v1/traces"
    host = conf.get("traces", "otel_host", fallback="localhost") or "localhost"
    port = conf.getint("traces", "otel_port", fallback=4318)
    scheme = "https" if conf.getboolean("traces", "otel_ssl_active", fallback=False) else "http"
    return f"{scheme}://{host}:{port}/v1/traces"


def start_task_span(context: Any, trace_id: str) -> None:
    """Open this attempt's span (called when the task starts running)."""
    endpoint = traces_endpoint()
    if endpoint is None:
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace

    tracer = _tracer(endpoint)
    ti = context["ti"]
    parent = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=int(trace_id, 16),
            span_id=_span_id(trace_id, ti.dag_id, ti.run_id),
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
    )
    span = tracer.start_span(
        f"task {ti.dag_id}.{ti.task_id}",
        context=trace.set_span_in_context(parent),
        kind=trace.SpanKind.INTERNAL,
        attributes={
            "airflow.dag_id": ti.dag_id,
            "airflow.task_id": ti.task_id,
            "airflow.run_id": ti.run_id,
            "airflow.try_number": ti.try_number,
            "airflow.map_index": ti.map_index if ti.map_index is not None else -1,
            "spotify_agent.trace_id": trace_id,
        },
    )
    _current["span"] = span
    _current["token"] = otel_context.attach(trace.set_span_in_context(span))


def end_task_span(outcome: str, error: Any = None) -> None:
    """Close the attempt's span with its outcome (called from the listener's end hooks)."""
    span = _current.pop("span", None)
    token = _current.pop("token", None)
    if span is None:
        return
    from opentelemetry import context as otel_context
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("airflow.outcome", outcome)
    if isinstance(error, BaseException):
        span.record_exception(error)
    if outcome in ("failed", "up_for_retry"):
        span.set_status(Status(StatusCode.ERROR, outcome))
    span.end()
    if token is not None:
        otel_context.detach(token)
    _current["provider"].force_flush(timeout_millis=10_000)


def record_http_span(method: str, url: str, status: int, elapsed_ms: float) -> None:
    """A finished outgoing HTTP call as a child of the task's span (nothing when tracing is
    off). The query string is left out: ids, not secrets, but long and of little use."""
    span = _current.get("span")
    if span is None:
        return
    import time
    from urllib.parse import urlsplit

    from opentelemetry.trace import Status, StatusCode

    parts = urlsplit(url)
    end_ns = time.time_ns()
    child = _client_span(
        span,
        f"{method} {parts.path}",
        start_ns=end_ns - int(elapsed_ms * 1_000_000),
        attributes={
            "http.request.method": method,
            "server.address": parts.hostname or "",
            "url.path": parts.path,
            "http.response.status_code": status,
        },
    )
    if status >= 400:
        child.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
    child.end(end_time=end_ns)


def trace_db_calls(engine: Any) -> None:
    """Make each statement ``engine`` runs while a task span is open a child span of it.

    Registered once per engine; costs a dict lookup per statement when tracing is off. The
    statement text is recorded without its parameters (values are bound, never inlined).
    """
    from sqlalchemy import event

    if event.contains(engine, "before_cursor_execute", _before_statement):
        return
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "after_cursor_execute", _after_statement)
    event.listen(engine, "handle_error", _failed_statement)


def _before_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if "span" in _current:
        import time

        conn.info.setdefault("spotify_agent_span_starts", []).append(time.time_ns())


def _after_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    starts = conn.info.get("spotify_agent_span_starts")
    if starts:
        _record_db_span(conn, statement, starts.pop(), error=None)


def _failed_statement(exception_context: Any) -> None:
    conn = exception_context.connection
    starts = conn.info.get("spotify_agent_span_starts") if conn is not None else None
    if starts:
        statement = exception_context.statement or ""
        _record_db_span(conn, statement, starts.pop(), error=exception_context.original_exception)


def _record_db_span(conn: Any, statement: str, start_ns: int, error: Any) -> None:
    span = _current.get("span")
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    operation = (statement.split(None, 1) or ["?"])[0].upper()
    system = conn.engine.dialect.name
    child = _client_span(
        span,
        f"{operation} {system}",
        start_ns=start_ns,
        attributes={
            "db.system": system,
            "db.namespace": conn.engine.url.database or "",
            "db.operation.name": operation,
            "db.query.text": " ".join(statement.split())[:2000],
        },
    )
    if error is not None:
        child.record_exception(error)
        child.set_status(Status(StatusCode.ERROR, type(error).__name__))
    child.end()


def _client_span(parent: Any, name: str, *, start_ns: int, attributes: dict[str, Any]) -> Any:
    """A started CLIENT span under ``parent`` (the task's span); the caller ends it."""
    from opentelemetry import trace

    tracer = _current["provider"].get_tracer(__name__)
    return tracer.start_span(
        name,
        context=trace.set_span_in_context(parent),
        kind=trace.SpanKind.CLIENT,
        start_time=start_ns,
        attributes=attributes,
    )


def _tracer(endpoint: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = _current.get("provider")
    if provider is None:
        # Our own provider, not the global one: Airflow may configure that for its own spans.
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        _current["provider"] = provider
    return provider.get_tracer(__name__)


def _span_id(trace_id: str, dag_id: str, run_id: str) -> int:
    """A stable id for the run's (remote) parent span, never zero."""
    digest = hashlib.sha256(f"{trace_id}\x1f{dag_id}\x1f{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1
