"""LlmHook: an OpenAI-compatible chat-completions endpoint from an ``http`` connection.

Connection fields: host = base URL (``https://api.openai.com``, a gateway, or a local server),
password = API key (sent as a bearer token; may be empty for a local server); extra: ``model``,
``path`` (``/v1/chat/completions``), ``max_chars`` (300, Spotify's description limit) and
``timeout_s`` (30). The key never leaves the connection: it is not logged or returned.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from spotify_agent.content.llm import LlmSettings
from spotify_agent.content.text import MAX_DESCRIPTION_CHARS
from spotify_agent_airflow.hooks import http_base_url


class LlmHook(BaseHook):
    conn_name_attr = "llm_conn_id"
    default_conn_name = "content_llm"
    conn_type = "http"
    hook_name = "Content LLM (chat completions)"

    def __init__(self, llm_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.llm_conn_id = llm_conn_id

    @cached_property
    def _connection(self) -> Any:
        connection = self.get_connection(self.llm_conn_id)
        # A run conf names the connection: never send another service's password as a token.
        if connection.conn_type != "http":
            raise ValueError(
                f"{self.llm_conn_id}: is a {connection.conn_type!r} connection, not 'http'"
            )
        if not connection.host:
            raise ValueError(f"{self.llm_conn_id}: host (the endpoint's base URL) is required")
        return connection

    @cached_property
    def settings(self) -> LlmSettings:
        extra = self._connection.extra_dejson or {}
        return LlmSettings(
            model=str(extra.get("model", "default")),
            # Never above what Spotify shows, whatever the connection says.
            max_chars=min(
                int(extra.get("max_chars", MAX_DESCRIPTION_CHARS)), MAX_DESCRIPTION_CHARS
            ),
        )

    @property
    def url(self) -> str:
        connection = self._connection
        path = str((connection.extra_dejson or {}).get("path", "/v1/chat/completions"))
        return http_base_url(connection) + path

    def post(self, body: dict[str, Any]) -> Any:
        """Send ``body``; the decoded JSON answer, or an exception for an HTTP error."""
        import requests

        connection = self._connection
        headers = {"Authorization": f"Bearer {connection.password}"} if connection.password else {}
        timeout = float((connection.extra_dejson or {}).get("timeout_s", 30))
        response = requests.post(self.url, json=body, headers=headers, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.post(
                {
                    "model": self.settings.model,
                    "messages": [{"role": "user", "content": "Answer with: ok"}],
                }
            )
        except Exception as error:  # noqa: BLE001 - report, do not raise, from a connection test
            return False, f"{type(error).__name__}: {error}"
        return True, f"chat completions answered at {self.url}"
