"""PagerDuty Events API v2: trigger and resolve alerts under a stable dedup key.

The dedup key names the thing that is broken (``spotify-agent/health/warehouse``), not the run
that saw it, so every run that finds it still broken updates one incident, and the run that
finds it working again resolves that incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import requests

EVENTS_PATH = "/v2/enqueue"
DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
Severity = Literal["critical", "error", "warning", "info"]
# PagerDuty refuses a summary longer than 1024 characters.
MAX_SUMMARY = 1024


class PagingFailed(RuntimeError):
    """PagerDuty did not take the event (unreachable, 5xx, 429): worth trying again."""


class PagingRefused(PagingFailed):
    """PagerDuty refused the event (a 4xx: wrong routing key, bad event): retrying cannot help."""


@dataclass(frozen=True)
class AlertEvent:
    action: Literal["trigger", "resolve"]
    dedup_key: str
    summary: str = ""
    source: str = "spotify-agent-airflow"
    severity: Severity = "error"
    component: str | None = None
    group: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def body(self, routing_key: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": self.action,
            "dedup_key": self.dedup_key,
        }
        if self.action == "trigger":
            payload: dict[str, Any] = {
                "summary": self.summary[:MAX_SUMMARY],
                "source": self.source,
                "severity": self.severity,
                "custom_details": self.details,
            }
            if self.component:
                payload["component"] = self.component
            if self.group:
                payload["group"] = self.group
            body["payload"] = payload
        return body


def send_event(
    event: AlertEvent,
    *,
    routing_key: str,
    base_url: str = DEFAULT_EVENTS_URL,
    session: requests.Session | None = None,
    timeout_s: float = 10.0,
) -> str:
    """Send one event; returns PagerDuty's dedup key. Raises :class:`PagingFailed` otherwise."""
    import requests

    url = base_url.rstrip("/") + EVENTS_PATH
    sender = session or requests.Session()
    try:
        response = sender.post(url, json=event.body(routing_key), timeout=timeout_s)
    except requests.RequestException as error:
        raise PagingFailed(f"{event.action} {event.dedup_key}: {type(error).__name__}") from None
    if response.status_code != 202:
        # The body names the problem (an invalid routing key, a missing field); never echo the key.
        message = (
            f"{event.action} {event.dedup_key}: HTTP {response.status_code} "
            f"{response.text[:300].replace(routing_key, '***')}"
        )
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise PagingRefused(message)
        raise PagingFailed(message)
    return str(response.json().get("dedup_key", event.dedup_key))
