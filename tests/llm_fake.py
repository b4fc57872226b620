"""A real chat-completions endpoint on loopback whose answers a test chooses.

Stands in for an LLM gateway the way the emulator stands in for Spotify: the code under test
talks HTTP to it through its connection, and the test reads back what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from spotify_agent.content.text import Draft, Sentence


@dataclass
class FakeLlm:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # What the next calls answer: (status, body). The last one repeats.
    answers: list[tuple[int, bytes]] = field(default_factory=list)

    def answer_text(self, text: str) -> None:
        body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
        self.answers = [(200, json.dumps(body).encode())]

    def answer_raw(self, status: int, body: bytes) -> None:
        self.answers = [(status, body)]

    def connection(self, **extra: Any) -> dict[str, Any]:
        """An Airflow ``http`` connection to this endpoint (for ``AIRFLOW_CONN_*``)."""
        return {
            "conn_type": "http",
            "host": self.base_url,
            "password": "test-llm-key",  # pragma: allowlist secret
            "extra": {"model": "fake-model", **extra},
        }


@contextmanager
def run_fake_llm() -> Iterator[FakeLlm]:
    fake = FakeLlm(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            fake.requests.append(json.loads(self.rfile.read(length) or b"null"))
            fake.headers.append(dict(self.headers))
            status, body = fake.answers[0] if fake.answers else (500, b"{}")
            if len(fake.answers) > 1:
                fake.answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def sample_draft() -> Draft:
    """The template draft the LLM tests rewrite: two sentences, four facts."""
    return Draft(
        "playlist_description",
        "3cEYpjA9oz9GiPac4AsH4n",
        "2026-11-25",
        (
            Sentence.render(
                "The {tracks} most played tracks of the last {days} days.", tracks=20, days=28
            ),
            Sentence.render("{plays} plays by {listeners} listeners.", plays=1234, listeners=56),
        ),
    )
