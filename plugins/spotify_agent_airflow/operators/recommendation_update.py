"""Task of ``recommendation_update``: the serving model's top-K for every active listener.
The job is :func:`spotify_agent.ml.recommendation_update.update_recommendations`."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.ml.confs import RecommendationUpdateConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class UpdateRecommendationsOperator(WarehouseOperator):
    """Loads the serving model (refusing one whose files fail their SHA-256, before anything
    is written), recommends ``k`` tracks to every listener active in the last ``active_days``,
    replaces the (model, day) set in ``recommendations`` with its audit row, then, when the
    cache is Redis, publishes it under versioned keys and swaps ``recs:current`` to it."""

    def execute(self, context: Any) -> dict[str, Any]:
        from functools import partial

        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent.maintenance.erasure import erased_among
        from spotify_agent.ml.recommendation_update import update_recommendations
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.context import interval_end
        from spotify_agent_airflow.hooks.cache import CacheHook
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, RecommendationUpdateConf)
        update = update_recommendations(
            self.warehouse_engine(),
            interval_end(context),
            conf,
            attempt_of(context),
            models=object_store_root(),
            erased=partial(erased_among, key=erasure_keyring()),
            cache=CacheHook().client if CacheHook.enabled() else None,
        )
        if update.skipped:
            raise AirflowSkipException(update.skipped)
        log.info("recommendations: %s", update.summary_line())
        return update.as_dict()
