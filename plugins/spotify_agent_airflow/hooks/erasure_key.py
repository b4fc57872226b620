"""The erasure keys behind the keyed hashes that stand for erased users.

They come from the ``gdpr_erasure_key`` connection (any connection type), never from the
warehouse, so holding the warehouse or the audit log is not enough to confirm a guessed id:
its password is the current key, and its extra's ``retired_keys`` (a list) holds the keys used
before a rotation, kept because the entries they made can only be matched with them
(:mod:`spotify_agent.maintenance.erasure_keys`; docs/OPERATIONS.md "Rotate the erasure key").
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spotify_agent.maintenance.erasure_keys import Keyring

log = logging.getLogger(__name__)

ERASURE_KEY_CONN_ID = "gdpr_erasure_key"
RETIRED_KEYS_EXTRA = "retired_keys"
# airflow_settings.yaml's fallback: fine for the demo, public for everyone else.
DEMO_KEY = "demo-erasure-key-not-for-production"


def erasure_key(conn_id: str = ERASURE_KEY_CONN_ID) -> Keyring:
    """The keys, from inside a task that must hold a current key (recording, erasing)."""
    from airflow.sdk import BaseHook

    keyring = keyring_of(BaseHook.get_connection(conn_id), conn_id)
    keyring.current_id  # noqa: B018 - fails at once, naming the connection, without one
    return keyring


def erasure_keyring(conn_id: str = ERASURE_KEY_CONN_ID) -> Keyring:
    """The keys where the deployment has them, else an empty keyring: jobs that only guard
    against erased users (ingestion) still stop when the erasure log refers to a key."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from spotify_agent.maintenance.erasure_keys import Keyring

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.warning(
            "no %s connection: erased users can be kept out only if none were erased", conn_id
        )
        return Keyring(None, (), conn_id)
    return keyring_of(connection, conn_id)


def keyring_of(connection: Any, conn_id: str) -> Keyring:
    """The checked keys of a connection (Task SDK or ORM); retired keys are masked in logs."""
    from airflow.sdk.log import mask_secret

    from spotify_agent.maintenance.erasure_keys import Keyring

    retired = retired_keys(connection.extra_dejson, conn_id)
    for key in retired:
        mask_secret(key)
    if connection.password == DEMO_KEY:
        log.warning("%s holds the public demo key: set GDPR_ERASURE_KEY in production", conn_id)
    return Keyring.from_secrets(connection.password or None, retired, source=conn_id)


def retired_keys(extra: dict[str, Any], conn_id: str) -> list[str]:
    value = extra.get(RETIRED_KEYS_EXTRA) or []
    if isinstance(value, str):  # set through an environment variable as JSON text
        value = json.loads(value) if value.strip().startswith("[") else [value]
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{conn_id}: extra {RETIRED_KEYS_EXTRA} must be a list of keys")
    return value
