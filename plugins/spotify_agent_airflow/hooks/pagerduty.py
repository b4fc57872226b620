"""PagerDutyHook: the Events API v2 routing key and endpoint from the ``pagerduty_default``
connection.

Connection fields: password = the integration's routing key (any connection type); host = the
events endpoint's base URL, empty for ``https://events.pagerduty.com`` (a relay or a test
receiver otherwise). Without the connection, paging is off and callers log that instead.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from spotify_agent.core.pagerduty import DEFAULT_EVENTS_URL, AlertEvent, send_event
from spotify_agent_airflow.hooks import http_base_url


class PagerDutyHook(BaseHook):
    conn_name_attr = "pagerduty_conn_id"
    default_conn_name = "pagerduty_default"
    conn_type = "generic"
    hook_name = "PagerDuty Events API v2"

    def __init__(self, pagerduty_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.pagerduty_conn_id = pagerduty_conn_id

    @classmethod
    def if_configured(cls, conn_id: str = default_conn_name) -> PagerDutyHook | None:
        """The hook, its connection already read; ``None`` when there is no such connection
        (paging is off)."""
        from airflow.sdk.exceptions import AirflowNotFoundException

        hook = cls(conn_id)
        try:
            hook._connection  # noqa: B018 - fetched once here, reused by send()
        except AirflowNotFoundException:
            return None
        return hook

    @cached_property
    def _connection(self) -> Any:
        connection = self.get_connection(self.pagerduty_conn_id)
        if not connection.password:
            raise ValueError(f"{self.pagerduty_conn_id}: password (the routing key) is required")
        return connection

    @property
    def base_url(self) -> str:
        if not (self._connection.host or "").rstrip("/"):
            return DEFAULT_EVENTS_URL
        return http_base_url(self._connection)

    def send(self, event: AlertEvent) -> str:
        return send_event(event, routing_key=self._connection.password, base_url=self.base_url)
