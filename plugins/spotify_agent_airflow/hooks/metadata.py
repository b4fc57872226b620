"""The Airflow metadata database's URL for maintenance jobs, from the ``airflow_metadata_db``
connection.

Airflow 3 gives task processes no access to the metadata database; the jobs that must reach it
(its backup, ``airflow db clean``) read its URL from this connection instead, and are skipped,
saying why, where it is not defined.
"""

from __future__ import annotations

from sqlalchemy.engine import URL

METADATA_CONN_ID = "airflow_metadata_db"


def metadata_db_url() -> URL | None:
    """The URL the connection names, or ``None`` when there is no such connection."""
    from spotify_agent_airflow.hooks import connection_or_none
    from spotify_agent_airflow.hooks.warehouse import warehouse_url

    connection = connection_or_none(METADATA_CONN_ID)
    return None if connection is None else warehouse_url(connection)


def skip_reason(what: str) -> str:
    return f"no {METADATA_CONN_ID} connection: {what} is off (docs/CONFIGURATION.md)"
