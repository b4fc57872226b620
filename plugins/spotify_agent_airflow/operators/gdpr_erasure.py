"""Tasks of ``gdpr_erasure``: accept the run's request, then erase each waiting user with proof."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.maintenance.confs import GdprErasureConf
from spotify_agent_airflow.conf import read_conf

log = logging.getLogger(__name__)


class AcceptErasureRequestsOperator(BaseOperator):
    """Returns the ids of the requests waiting, the conf's own first, then the oldest, up to
    ``max_requests``. Requests are recorded in the warehouse beforehand (by the backend or
    ``request-erasure``): the run conf names one by its id, never by the user's id."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> list[str]:
        from spotify_agent.maintenance.erasure import waiting_requests
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, GdprErasureConf)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            waiting = waiting_requests(connection, first=conf.request_id, limit=conf.max_requests)
        log.info("%d erasure requests to process", len(waiting))
        return waiting


class EraseUserOperator(BaseOperator):
    """Erases one request's user from every registered store, proves it, and writes the receipt.

    Steps done by an earlier, interrupted attempt are not repeated. A search that still finds the
    user fails the attempt (the retry erases the named stores again); the receipt, the erasure
    log and the cleared raw id are written together only after a clean search.
    """

    template_fields = ("request_id",)

    def __init__(
        self, *, request_id: str, warehouse_conn_id: str = "warehouse_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.request_id = request_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.core.errors import PermanentFailure
        from spotify_agent.maintenance.erasure import (
            InvalidRequest,
            checked_user,
            complete_request,
            erase_stores,
            request_of,
            verify_erased,
            write_log_object,
        )
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.cache import CacheHook
        from spotify_agent_airflow.hooks.erasure_key import erasure_key
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        ref = run_ref(context)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        objects = object_store_root()
        with engine.connect() as connection:
            request = request_of(connection, self.request_id)
        if request is None:
            raise LookupError(f"request_id: no erasure request {self.request_id!r}")
        if request["status"] == "completed":
            log.info("request %s was completed by an earlier run", self.request_id)
            return {"request_id": self.request_id, "status": "completed"}
        try:
            with engine.begin() as connection:
                user_id = checked_user(connection, request, keyring=erasure_key())
                request = request_of(connection, self.request_id) or request
        except InvalidRequest as error:
            raise PermanentFailure(str(error)) from None
        now = datetime.now(UTC)
        # Where recommendations are served from Redis, their keys are erased too; a cache that
        # cannot be reached fails the attempt (retried), never completes the request without it.
        cache = CacheHook().client if CacheHook.enabled() else None
        erased = erase_stores(
            engine,
            objects,
            request_id=self.request_id,
            user_id=user_id,
            run_id=ref.run_id,
            at=now,
            cache=cache,
        )
        log.info("request %s: erased this attempt %s", self.request_id, erased)
        verify_erased(engine, objects, request_id=self.request_id, user_id=user_id, cache=cache)
        with engine.begin() as connection:
            receipt = complete_request(connection, request_id=self.request_id, at=now)
            # Before the commit: a log entry without its request completed is replayed
            # harmlessly; a completed request without its entry could be resurrected.
            write_log_object(objects, receipt.log_entry())
            audit_action(
                connection,
                context,
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
            )
        log.info("request %s: %s", self.request_id, receipt.summary())
        return {
            "request_id": self.request_id,
            "status": "completed",
            "found": receipt.found,
            "erased": sum(receipt.counts.values()),
        }
