"""Tasks of ``gdpr_erasure``: accept the run's request, then erase each waiting user with proof."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.maintenance.confs import GdprErasureConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class AcceptErasureRequestsOperator(WarehouseOperator):
    """Returns the ids of the requests waiting, the conf's own first, then the oldest, up to
    ``max_requests``. Requests are recorded in the warehouse beforehand (by the backend or
    ``request-erasure``): the run conf names one by its id, never by the user's id."""

    def execute(self, context: Any) -> list[str]:
        from spotify_agent.maintenance.erasure import waiting_requests

        conf = read_conf(context, GdprErasureConf)
        engine = self.warehouse_engine()
        with engine.connect() as connection:
            waiting = waiting_requests(connection, first=conf.request_id, limit=conf.max_requests)
        log.info("%d erasure requests to process", len(waiting))
        return waiting


class EraseUserOperator(WarehouseOperator):
    """Erases one request's user from every registered store, proves it, and writes the receipt.

    Steps done by an earlier, interrupted attempt are not repeated. A search that still finds the
    user fails the attempt (the retry erases the named stores again); the receipt, the erasure
    log and the cleared raw id are written together only after a clean search.
    """

    template_fields = ("request_id",)

    def __init__(self, *, request_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_id = request_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.maintenance.gdpr_erasure import erase_request
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.cache import CacheHook
        from spotify_agent_airflow.hooks.erasure_key import erasure_key
        from spotify_agent_airflow.object_store import object_store_root

        # Where recommendations are served from Redis, their keys are erased too; a cache that
        # cannot be reached fails the attempt (retried), never completes the request without it.
        outcome = erase_request(
            self.warehouse_engine(),
            object_store_root(),
            self.request_id,
            keyring=erasure_key(),
            attempt=attempt_of(context),
            cache=CacheHook().client if CacheHook.enabled() else None,
        )
        log.info("%s", outcome.summary_line())
        return outcome.as_result()
