"""The HMAC key that stands for erased users in receipts and the erasure log.

It comes from the ``gdpr_erasure_key`` connection's password (any connection type), never from
the warehouse, so holding the warehouse or the audit log is not enough to confirm a guessed id.
The key must never change: the erasure log replayed on restored backups is matched with it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

ERASURE_KEY_CONN_ID = "gdpr_erasure_key"
# airflow_settings.yaml's fallback: fine for the demo, public for everyone else.
DEMO_KEY = "demo-erasure-key-not-for-production"


def erasure_key(conn_id: str = ERASURE_KEY_CONN_ID) -> bytes:
    """The key, from inside a task."""
    from airflow.sdk import BaseHook

    return _checked(BaseHook.get_connection(conn_id).password, conn_id)


def _checked(password: str | None, conn_id: str) -> bytes:
    from spotify_agent.maintenance.personal_data import check_key

    if password == DEMO_KEY:
        log.warning("%s holds the public demo key: set GDPR_ERASURE_KEY in production", conn_id)
    return check_key(password, source=conn_id)


def erasure_key_or_none(conn_id: str = ERASURE_KEY_CONN_ID) -> bytes | None:
    """The key where the deployment has one; jobs that only guard against erased users
    (ingestion) run without the guard otherwise, and say so."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.warning("no %s connection: erased users are not kept out of new data", conn_id)
        return None
    return _checked(connection.password, conn_id)
