"""``request-erasure`` and ``rotate-erasure-key``: the two erasure operations outside a run.

``request-erasure`` records a request in the warehouse (the backend does the same through
``spotify_agent.maintenance.erasure.record_request`` or one SQL insert, docs/OPERATIONS.md), so
the run conf carries only its id. ``rotate-erasure-key`` makes a new key current and keeps the
old one for matching the entries it made.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from spotify_agent_airflow.commands import connection_outside_tasks, keyring_outside_tasks

NEW_KEY_VARIABLE = "GDPR_ERASURE_NEW_KEY"


def add_parsers(commands: Any) -> None:
    request = commands.add_parser(
        "request-erasure",
        help="record an erasure request in the warehouse and print its id for gdpr_erasure",
    )
    request.add_argument("user_id", help="the Spotify user id, or - to read it from stdin")
    request.add_argument("--request-id", help="your id for the request (default: a new one)")
    request.add_argument("--conn-id", default="warehouse_default")
    request.set_defaults(func=cmd_request_erasure)

    rotate = commands.add_parser(
        "rotate-erasure-key",
        help=f"make ${NEW_KEY_VARIABLE} the current erasure key, keeping the old one for matching",
    )
    rotate.add_argument("--key-conn-id", default="gdpr_erasure_key")
    rotate.set_defaults(func=cmd_rotate_erasure_key)


def cmd_request_erasure(args: argparse.Namespace) -> int:
    from spotify_agent.maintenance.erasure import InvalidRequest, RequestConflict, record_request
    from spotify_agent_airflow.hooks.warehouse import shared_engine, warehouse_url

    user_id = sys.stdin.readline().strip() if args.user_id == "-" else args.user_id
    connection, reason = connection_outside_tasks(args.conn_id)
    if connection is None:
        print(f"no {args.conn_id} connection: {reason}", file=sys.stderr)
        return 1
    keyring = keyring_outside_tasks("gdpr_erasure_key")
    try:
        with shared_engine(warehouse_url(connection)).begin() as warehouse:
            request_id, created = record_request(
                warehouse,
                user_id=user_id,
                keyring=keyring if keyring.current is not None else None,
                requested_by="cli:request-erasure",
                trace_id=secrets.token_hex(16),
                at=datetime.now(UTC),
                request_id=args.request_id,
            )
    except (InvalidRequest, RequestConflict) as error:
        print(str(error), file=sys.stderr)
        return 2
    print(f"erasure request {request_id} {'recorded' if created else 'was already recorded'}")
    print(
        "Process it now with: airflow dags test gdpr_erasure --conf "
        f"'{json.dumps({'request_id': request_id})}' (or wait for the hourly run)"
    )
    return 0


def cmd_rotate_erasure_key(args: argparse.Namespace) -> int:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    from spotify_agent.maintenance.erasure_keys import key_id
    from spotify_agent.maintenance.personal_data import InvalidErasureKey, check_key
    from spotify_agent_airflow.hooks.erasure_key import RETIRED_KEYS_EXTRA, retired_keys

    new = os.environ.get(NEW_KEY_VARIABLE) or (
        getpass.getpass("new erasure key: ") if sys.stdin.isatty() else ""
    )
    try:
        new_key = check_key(new, source=NEW_KEY_VARIABLE)
    except InvalidErasureKey as error:
        print(str(error), file=sys.stderr)
        return 2
    with create_session() as session:
        stored = (
            session.query(Connection).filter(Connection.conn_id == args.key_conn_id).one_or_none()
        )
        if stored is None:
            found, _ = connection_outside_tasks(args.key_conn_id)
            where = "a secrets backend or AIRFLOW_CONN_* variable" if found else "nowhere"
            print(
                f"{args.key_conn_id} is not in Airflow's metadata DB (it comes from {where}): "
                "rotate it there — new key as the password, the old one appended to the extra's "
                f"{RETIRED_KEYS_EXTRA} list (docs/OPERATIONS.md, 'Rotate the erasure key')",
                file=sys.stderr,
            )
            return 1
        extra = stored.extra_dejson
        retired = retired_keys(extra, args.key_conn_id)
        old = stored.password
        if old and old.encode() == new_key:
            print(f"{args.key_conn_id}: that key ({key_id(new_key)}) is already current")
            return 0
        if old and old not in retired:
            retired.append(old)
        stored.password = new
        stored.extra = json.dumps({**extra, RETIRED_KEYS_EXTRA: retired}, sort_keys=True)
    retired_ids = ", ".join(key_id(key.encode()) for key in retired) or "none"
    print(
        f"{args.key_conn_id}: current key is now {key_id(new_key)}; retired keys kept for "
        f"matching: {retired_ids}. New requests and receipts use the new key."
    )
    return 0
