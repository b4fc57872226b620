"""Counts of Spotify calls: per endpoint, per status, 429s and latency.

Every answered Web API request is counted, including the ones spotipy's retry layer repeats, so a
benchmark or a run summary sees the calls Spotify answered. Not counted: token requests (the
auth managers use their own session) and attempts that got no answer (timeouts, resets).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_ID_SEGMENT = re.compile(r"/[0-9A-Za-z]{22}(?=/|$)")


def endpoint_of(method: str, url: str) -> str:
    """``GET /v1/artists/{id}/albums`` for any artist id: the name a metric is counted under."""
    path = _ID_SEGMENT.sub("/{id}", urlsplit(url).path)
    return f"{method.upper()} {path}"


@dataclass
class CallStats:
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, url: str, status: int, latency_ms: float | None = None) -> None:
        with self._lock:
            self.calls[endpoint_of(method, url)] += 1
            self.statuses[status] += 1
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def rate_limited(self) -> int:
        return self.statuses[429]

    def summary(self) -> dict[str, int]:
        """Small enough for a task's return value and an audit row's ``counts``."""
        ordered = sorted(self.latencies_ms)
        p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0
        return {
            "spotify_calls": self.total,
            "spotify_429s": self.rate_limited,
            "spotify_5xx": sum(n for status, n in self.statuses.items() if status >= 500),
            "spotify_p95_ms": round(p95),
        }
