"""Real receivers on loopback that capture what our code sends (PagerDuty Events API v2 here).

Each is a real HTTP server in a thread: the code under test talks HTTP to it exactly as it would
to the service, and the test reads what arrived.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free loopback port, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@dataclass
class PagerDutyReceiver:
    """Accepts ``POST /v2/enqueue`` like PagerDuty: 202 for a well-formed event with a known
    routing key, 400 with PagerDuty's error body otherwise."""

    url: str = ""
    routing_key: str = "test-routing-key-0123456789abcd"  # pragma: allowlist secret
    events: list[dict[str, Any]] = field(default_factory=list)

    def connection(self, routing_key: str | None = None) -> dict[str, Any]:
        """An Airflow connection (``AIRFLOW_CONN_PAGERDUTY_DEFAULT``) pointing here."""
        return {
            "conn_type": "generic",
            "host": self.url,
            "password": routing_key or self.routing_key,
        }

    def by_key(self, dedup_key: str) -> list[str]:
        return [e["event_action"] for e in self.events if e.get("dedup_key") == dedup_key]


def _handler(receiver: PagerDutyReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                event = json.loads(body)
            except ValueError:
                event = None
            problems = (
                _problems(event, receiver.routing_key) if self.path == "/v2/enqueue" else ["path"]
            )
            if problems:
                self._answer(
                    400,
                    {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": problems,
                    },
                )
                return
            receiver.events.append(event)
            self._answer(
                202,
                {
                    "status": "success",
                    "message": "Event processed",
                    "dedup_key": event["dedup_key"],
                },
            )

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            _reply(self, status, json.dumps(body).encode(), "application/json")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _problems(event: Any, routing_key: str) -> list[str]:
    if not isinstance(event, dict):
        return ["body must be a JSON object"]
    problems = []
    if event.get("routing_key") != routing_key:
        # Echoes what it got, as error bodies often do: the client must not print it back.
        problems.append(f"Invalid routing key {event.get('routing_key')!r}")
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        problems.append("'event_action' is invalid")
    if event.get("event_action") == "trigger":
        payload = event.get("payload") or {}
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                problems.append(f"'payload.{name}' is missing or blank")
    elif not event.get("dedup_key"):
        problems.append("'dedup_key' is required to " + str(event.get("event_action")))
    return problems


@contextmanager
def run_pagerduty_receiver() -> Iterator[PagerDutyReceiver]:
    receiver = PagerDutyReceiver()
    with _serve(_handler(receiver)) as receiver.url:
        yield receiver


@dataclass
class StatsdReceiver:
    """A UDP socket on loopback, as a statsd server listens: every line that arrives is kept."""

    port: int = 0
    lines: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Airflow settings that send its metrics (and ours) here."""
        return {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
        }

    def starting_with(self, prefix: str) -> list[str]:
        return [line for line in self.lines if line.startswith(prefix)]


@contextmanager
def run_statsd_receiver() -> Iterator[StatsdReceiver]:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    receiver = StatsdReceiver(port=sock.getsockname()[1])
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            try:
                data = sock.recv(65535)
            except TimeoutError:
                continue
            receiver.lines.extend(data.decode(errors="replace").splitlines())

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


@dataclass
class SentryReceiver:
    """Sentry's envelope endpoint (``POST /api/<project>/envelope/``): every event item kept."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    def dsn(self) -> str:
        return self.url.replace("http://", "http://publickey@") + "/1"

    def env(self) -> dict[str, str]:
        return {"AIRFLOW__SENTRY__SENTRY_ON": "True", "AIRFLOW__SENTRY__SENTRY_DSN": self.dsn()}


def _sentry_handler(receiver: SentryReceiver) -> type[BaseHTTPRequestHandler]:
    import gzip

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.raw.append(body)
            # An envelope: a header line, then (item header, payload) line pairs.
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    receiver.events.append(json.loads(payload))
            _reply(self, 200, b'{"id": "0"}', "application/json")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def run_sentry_receiver() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver()
    with _serve(_sentry_handler(receiver)) as receiver.url:
        yield receiver


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP traces endpoint (``POST /v1/traces``, protobuf): every span kept."""

    url: str = ""
    spans: list[Any] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "AIRFLOW__TRACES__OTEL_ON": "True",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{self.url}/v1/traces",
        }


def _otlp_handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                import gzip

                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        receiver.spans.append(span)
                        receiver.resources.append(attributes)
            data = ExportTraceServiceResponse().SerializeToString()
            _reply(self, 200, data, "application/x-protobuf")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def run_otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    with _serve(_otlp_handler(receiver)) as receiver.url:
        yield receiver


@dataclass
class SmtpReceiver:
    """A real SMTP server on loopback (aiosmtpd): every message it accepts is kept, parsed."""

    port: int = 0
    messages: list[Any] = field(default_factory=list)

    def connection(self) -> dict[str, Any]:
        """An Airflow SMTP connection to this server: plain SMTP, no TLS, no login."""
        return {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": self.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "reports@example.com",
                      "retry_limit": 1, "timeout": 10},
        }  # fmt: skip


@contextmanager
def run_smtp_receiver() -> Iterator[SmtpReceiver]:
    import email
    import email.policy
    import socket

    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            receiver.messages.append(message)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        receiver.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
