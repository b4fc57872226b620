"""An OpenTelemetry span per task attempt, in the run's own trace, exported over OTLP/HTTP.

Airflow 3.3 gives every run a random trace id of its own and emits no task span under
``airflow dags test``; our runs already have a trace id (the caller's, or one derived from the
run id) that logs, metrics, Sentry and audit rows carry. So the audit listener opens a span for
each attempt whose trace id *is* that id (a remote parent), making a backend's trace, our logs
and the spans one thread. Outgoing Spotify calls are child spans (``record_http_span``).

On when ``[traces] otel_on`` is true. Endpoint: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else ``http://<otel_host>:<otel_port>/v1/traces``
from ``[traces]``. Spans are exported as they end (a task process is short-lived).
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


def record_http_span(method: str, url: str, status: int, elapsed_ms: float) -> None:
    """A finished outgoing HTTP call as a child of the task's span (nothing when tracing is
    off). The query string is left out: ids, not secrets, but long and of little use."""
    span = _current.get("span")
    if span is None:
        return
    import time
    from urllib.parse import urlsplit

    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    parts = urlsplit(url)
    end_ns = time.time_ns()
    child = (
        _current["provider"]
        .get_tracer(__name__)
        .start_span(
            f"{method} {parts.path}",
            context=trace.set_span_in_context(span),
            kind=trace.SpanKind.CLIENT,
            start_time=end_ns - int(elapsed_ms * 1_000_000),
            attributes={
                "http.request.method": method,
                "server.address": parts.hostname or "",
                "url.path": parts.path,
                "http.response.status_code": status,
            },
        )
    )
    if status >= 400:
        child.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
    child.end(end_time=end_ns)


def _tracer(endpoint: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = _current.get("provider")
    if provider is None:
        # Our own provider, not the global one: Airflow may configure that for its own spans.
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        _current["provider"] = provider
    return provider.get_tracer(__name__)


def _span_id(trace_id: str, dag_id: str, run_id: str) -> int:
    """A stable id for the run's (remote) parent span, never zero."""
    digest = hashlib.sha256(f"{trace_id}\x1f{dag_id}\x1f{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1
