"""Hooks, and how a task asks whether an optional connection is configured."""

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
