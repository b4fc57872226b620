"""The project's commands outside tasks (``python -m spotify_agent_airflow.cli``), one module each."""

from __future__ import annotations

from typing import Any


def connection_outside_tasks(conn_id: str) -> tuple[Any | None, str]:
    """A connection read from outside a task, from wherever Airflow looks (``AIRFLOW_CONN_*``,
    a secrets backend, then the metadata DB), and why it is missing when it is.

    A lost or unreachable metadata DB is "missing", not a crash: restoring after a loss must
    still work from environment variables or a secrets backend.
    """
    from airflow.models.connection import Connection

    try:
        return Connection.get_connection_from_secrets(conn_id), ""
    except Exception as error:  # noqa: BLE001 - not found, or the metadata DB is gone
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return None, reason


def warehouse_url_outside_tasks(conn_id: str = "warehouse_default") -> Any:
    """The warehouse URL from outside a task: connections come from the metadata DB or secrets."""
    from airflow.models.connection import Connection

    from spotify_agent_airflow.hooks.warehouse import warehouse_url

    return warehouse_url(Connection.get_connection_from_secrets(conn_id))


def keyring_outside_tasks(conn_id: str = "gdpr_erasure_key") -> Any:
    """The erasure keys from outside a task; an empty keyring (which refuses any logged key)
    when the connection is missing, said on stdout."""
    from spotify_agent.maintenance.erasure_keys import Keyring
    from spotify_agent_airflow.hooks.erasure_key import keyring_of

    connection, reason = connection_outside_tasks(conn_id)
    if connection is None:
        print(f"no {conn_id} connection ({reason})")
        return Keyring(None, (), conn_id)
    return keyring_of(connection, conn_id)


def object_store_outside_tasks(
    url: str | None = None, conn_id: str | None = None
) -> tuple[Any, str]:
    """The object store root from ``url``, else ``$OBJECT_STORE_URL``, else the
    ``object_store_url`` variable (when the metadata DB is there), else the local default; and
    where the location came from."""
    import os

    from spotify_agent_airflow.object_store import (
        DEFAULT_OBJECT_STORE_URL,
        OBJECT_STORE_URL_VARIABLE,
        root_for,
    )

    source = "--objects"
    if not url and os.environ.get("OBJECT_STORE_URL"):
        url, source = os.environ["OBJECT_STORE_URL"], "$OBJECT_STORE_URL"
    if not url:
        url, source = _variable(OBJECT_STORE_URL_VARIABLE), "the object_store_url variable"
    if not url:
        url, source = DEFAULT_OBJECT_STORE_URL, "the default"
    conn_id = conn_id or os.environ.get("OBJECT_STORE_CONN_ID", "aws_default")
    return root_for(url, conn_id), f"{url} ({source})"


def _variable(key: str) -> str | None:
    from airflow.models.variable import Variable

    try:
        value = Variable.get(key, default_var=None)
    except Exception:  # noqa: BLE001 - the metadata DB may be gone: fall through to the default
        return None
    return str(value) if value else None
