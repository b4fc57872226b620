"""CacheHook: a Redis client for ``redis_default``, or ``None`` where the deployment has no cache."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, Variable

if TYPE_CHECKING:
    import redis

CACHE_BACKEND_VARIABLE = "cache_backend"


class CacheHook(BaseHook):
    """Redis from a connection (host, port, password, ``extra.db``, ``extra.ssl``), with timeouts.

    The redis provider's hook sets no socket timeouts, so a silent host would hang a task; this
    one gives up after ``timeout_s``.
    """

    conn_name_attr = "redis_conn_id"
    default_conn_name = "redis_default"
    conn_type = "redis"
    hook_name = "Cache (Redis)"

    def __init__(self, redis_conn_id: str = default_conn_name, *, timeout_s: float = 5.0) -> None:
        super().__init__()
        self.redis_conn_id = redis_conn_id
        self.timeout_s = timeout_s

    @staticmethod
    def enabled() -> bool:
        """True when the ``cache_backend`` variable says ``redis`` (the demo runs with ``none``)."""
        return str(Variable.get(CACHE_BACKEND_VARIABLE, default="none")).lower() == "redis"

    @cached_property
    def client(self) -> redis.Redis[bytes]:
        import redis

        connection = self.get_connection(self.redis_conn_id)
        extra: dict[str, Any] = connection.extra_dejson
        return redis.Redis(
            host=connection.host or "localhost",
            port=connection.port or 6379,
            db=int(extra.get("db", 0)),
            username=connection.login or None,
            password=connection.password or None,
            ssl=bool(extra.get("ssl", False)),
            socket_timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            return bool(self.client.ping()), "PING ok"
        except Exception as error:  # noqa: BLE001 - report, do not raise, from a connection test
            return False, f"{type(error).__name__}: {error}"
