"""Hooks, how a task asks whether an optional connection is configured, and the base URL of an
HTTP service's connection."""

from __future__ import annotations

from typing import Any


def connection_or_none(conn_id: str) -> Any:
    """The connection, or ``None`` when none is configured (an optional feature is off)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def http_base_url(connection: Any) -> str:
    """``scheme://host[:port]`` of a connection to an HTTP service, without a trailing slash. The
    host may carry its scheme (``https://events.example``); else the connection's ``schema``
    gives it (default ``https``)."""
    host = str(connection.host or "").rstrip("/")
    if "://" not in host:
        host = f"{connection.schema or 'https'}://{host}"
    if connection.port:
        host = f"{host}:{connection.port}"
    return host
