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


@dataclass
class PagerDutyReceiver:
    """Accepts ``POST /v2/enqueue`` like PagerDuty: 202 for a well-formed event with a known
    routing key, 400 with PagerDuty's error body otherwise."""

    url: str = ""
    routing_key: str = "test-routing-key-0123456789abcd"
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
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
