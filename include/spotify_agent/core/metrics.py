"""Business metrics as statsd lines with DogStatsD tags (what Prometheus' statsd_exporter and
Datadog read).

Every domain action's counts become metrics named ``spotify_agent.<action>.<count>``, tagged
with the DAG and the task, never the run's trace id (a series per run would swamp Prometheus).
The count's name says its kind: ``*_ms`` is a timing, ``*_bytes`` and ``*_pct`` are gauges (a
size, a share), anything else is a counter.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PREFIX = "spotify_agent"
# One UDP datagram stays under a typical MTU; statsd servers split lines on "\n".
MAX_DATAGRAM = 1432
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")


@dataclass(frozen=True)
class StatsdTarget:
    host: str
    port: int


def kind_of(name: str) -> str:
    if name.endswith("_ms"):
        return "ms"
    if name.endswith(("_bytes", "_pct")):
        return "g"
    return "c"


def metric_lines(action: str, counts: Mapping[str, float], tags: Mapping[str, str]) -> list[str]:
    """``spotify_agent.<action>.<name>:<value>|<kind>|#tag:value,...`` for each count."""
    tag_text = ",".join(f"{_clean(key)}:{_clean(str(value))}" for key, value in tags.items())
    lines = []
    for name, value in sorted(counts.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        line = f"{PREFIX}.{_component(action)}.{_component(name)}:{value}|{kind_of(name)}"
        lines.append(f"{line}|#{tag_text}" if tag_text else line)
    return lines


def send_lines(target: StatsdTarget, lines: Iterable[str]) -> int:
    """Send over UDP (fire and forget, as statsd is); returns the datagrams sent."""
    datagrams, current = [], ""
    for line in lines:
        if current and len(current) + 1 + len(line) > MAX_DATAGRAM:
            datagrams.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        datagrams.append(current)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram.encode(), (target.host, target.port))
    return len(datagrams)


def _component(text: str) -> str:
    """One component of a metric name: a count named ``agg_listeners.user_id`` (erasure counts
    name table and column) must not add a level that ``spotify_agent.<action>.<count>`` lacks."""
    return _clean(text).replace(".", "_")


def _clean(text: str) -> str:
    # ":", "|", "#" and "," delimit the line format; keep names and tag values to safe characters.
    return _UNSAFE.sub("_", text)
