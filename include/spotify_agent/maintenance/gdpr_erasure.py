"""The ``gdpr_erasure`` job for one recorded request: check whose it is, erase that listener from
every registered store, prove it by searching them all, then write the receipt, the erasure-log
entry and the audit row together.

Resumable and idempotent: each store's step is kept in ``erasure_steps`` and deletes by the
user's id, so a killed attempt resumes with what is left and a completed request is left alone.
A search that still finds the user fails the attempt (the retry erases the named stores again).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.maintenance.erasure import (
    InvalidRequest,
    Receipt,
    checked_user,
    complete_request,
    erase_stores,
    request_of,
    verify_erased,
    write_log_object,
)
from spotify_agent.maintenance.erasure_keys import Keyring

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureOutcome:
    request_id: str
    receipt: Receipt | None  # None: an earlier run completed the request

    def as_result(self) -> dict[str, Any]:
        """The task's return value (XCom): never the user's id."""
        if self.receipt is None:
            return {"request_id": self.request_id, "status": "completed"}
        return {
            "request_id": self.request_id,
            "status": "completed",
            "found": self.receipt.found,
            "erased": sum(self.receipt.counts.values()),
        }

    def summary_line(self) -> str:
        if self.receipt is None:
            return f"request {self.request_id} was completed by an earlier run"
        return f"request {self.request_id}: {self.receipt.summary()}"


def erase_request(
    engine: Engine,
    objects: Any,
    request_id: str,
    *,
    keyring: Keyring,
    attempt: Attempt,
    cache: Any | None = None,
    now: datetime | None = None,
) -> ErasureOutcome:
    """Erase the user of ``request_id`` everywhere and prove it. ``cache``: the Redis client when
    recommendations are served from Redis (their keys are erased too)."""
    with engine.connect() as connection:
        request = request_of(connection, request_id)
    if request is None:
        raise LookupError(f"request_id: no erasure request {request_id!r}")
    if request["status"] == "completed":
        return ErasureOutcome(request_id, None)
    try:
        with engine.begin() as connection:
            user_id = checked_user(connection, request, keyring=keyring)
    except InvalidRequest as error:
        raise PermanentFailure(str(error)) from None
    at = now or datetime.now(UTC)
    erased = erase_stores(
        engine,
        objects,
        request_id=request_id,
        user_id=user_id,
        run_id=attempt.run_id,
        at=at,
        cache=cache,
    )
    log.info("request %s: erased this attempt %s", request_id, erased)
    verify_erased(engine, objects, request_id=request_id, user_id=user_id, cache=cache)
    with engine.begin() as connection:
        receipt = complete_request(connection, request_id=request_id, at=at)
        # Before the commit: a log entry without its request completed is replayed harmlessly;
        # a completed request without its entry could be resurrected.
        write_log_object(objects, receipt.log_entry())
        attempt.record(
            connection,
            "user_erased",
            outcome="erased" if receipt.found else "nothing_found",
            counts=receipt.counts,
            entity_type="user",
            entity_key=receipt.user_hmac,
            detail=json.dumps(
                {
                    "request_id": receipt.request_id,
                    "key_id": receipt.key_id,
                    "stores": receipt.stores,
                    "completed_at": receipt.completed_at.isoformat(),
                    "summary": receipt.summary(),
                }
            ),
            at=at,
        )
    return ErasureOutcome(request_id, receipt)
