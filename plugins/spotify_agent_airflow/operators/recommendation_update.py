"""Task of ``recommendation_update``: the serving model's top-K for every active listener."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.ml.confs import RecommendationUpdateConf
from spotify_agent_airflow.conf import read_conf

log = logging.getLogger(__name__)


class UpdateRecommendationsOperator(BaseOperator):
    """Loads the serving model (refusing one whose files fail their SHA-256, before anything
    is written), recommends ``k`` tracks to every listener active in the last ``active_days``,
    replaces the (model, day) set in ``recommendations`` with its audit row, then, when the
    cache is Redis, publishes it under versioned keys and swaps ``recs:current`` to it."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent.core.errors import PermanentFailure
        from spotify_agent.ml.recommend import recommend
        from spotify_agent.ml.recommendation_store import (
            known_tracks,
            listening_histories,
            popular_tracks,
            replace_recommendations,
        )
        from spotify_agent.ml.registry import ModelIntegrityError, load_model, serving_model
        from spotify_agent.warehouse.times import midnight_utc
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import interval_end, run_ref
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, RecommendationUpdateConf)
        end = midnight_utc(conf.day) if conf.day else interval_end(context)
        day = end.date()
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            serving = serving_model(connection)
        if serving is None:
            raise AirflowSkipException("no model serves yet: model_training has promoted none")
        model_id = serving["model_id"]
        try:
            loaded = load_model(object_store_root(), model_id)
        except ModelIntegrityError as error:
            with engine.begin() as connection:
                audit_action(connection, context, "recommendations_refused", outcome="refused",
                             entity_type="model", entity_key=model_id, detail=str(error))  # fmt: skip
            raise PermanentFailure(f"nothing written: {error}") from None
        with engine.connect() as connection:
            histories = listening_histories(
                connection,
                active_since=end - timedelta(days=conf.active_days),
                history_start=end - timedelta(days=conf.history_days),
                end=end,
            )
            catalogue = known_tracks(connection)
            popular = popular_tracks(connection, start=end - timedelta(days=conf.active_days),
                                     end=end)  # fmt: skip
        items, counts = recommend(
            loaded.model, loaded.item_ids, histories, k=conf.k, catalogue=catalogue,
            popular=popular,
        )  # fmt: skip
        ref = run_ref(context)
        key = erasure_keyring()
        with engine.begin() as connection:
            # In the write's transaction: a listener whose erasure began after the histories
            # were read must not get rows back.
            kept, erasing = _without_erasing(connection, items, key)
            counts.users -= len(erasing)
            counts.recommendations -= len(items) - len(kept)
            items = kept
            written = replace_recommendations(
                connection, model_id, day, items, run_id=ref.run_id, trace_id=ref.trace_id,
                at=datetime.now(UTC),
            )  # fmt: skip
            audit_action(
                connection,
                context,
                "recommendations_written",
                counts={
                    **counts.as_dict(),
                    "rows_written": written,
                    "erased_users_left_out": len(erasing),
                },
                entity_type="recommendation_set",
                entity_key=f"{model_id}:{day.isoformat()}",
                detail=f"k={conf.k}, model {model_id} ({loaded.card['kind']})",
            )
        with engine.connect() as connection:  # again: the publish comes after the commit
            items, _ = _without_erasing(connection, items, key)
        published = self._publish(context, engine, model_id, day, items)
        summary = {"model_id": model_id, "day": day.isoformat(), **counts.as_dict(),
                   "redis_users": published}  # fmt: skip
        log.info("recommendations: %s", summary)
        return summary

    def _publish(self, context: Any, engine: Any, model_id: str, day: Any, items: list[Any]) -> int:
        from spotify_agent.ml.publish import publish, set_version
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.hooks.cache import CacheHook

        if not CacheHook.enabled():
            log.info("the cache is off (cache_backend variable): the set is in the warehouse only")
            return 0
        version = set_version(model_id, day, context["ti"].run_id)
        users, current = publish(CacheHook().client, version, items)
        detail = (
            f"recs:current -> {version}"
            if current
            else f"{version} written; recs:current stays on a later day"
        )
        with engine.begin() as connection:
            audit_action(
                connection,
                context,
                "recommendations_published",
                counts={"users": users},
                entity_type="recommendation_set",
                entity_key=version,
                detail=detail,
            )
        log.info("Redis: %s users, %s", users, detail)
        return users


def _without_erasing(connection: Any, items: list[Any], key: Any) -> tuple[list[Any], set[str]]:
    """``items`` less those of listeners erased or being erased (a request is open, or their
    HMAC is in the erasure log), and who those are."""
    from spotify_agent.maintenance.erasure import erased_among

    erasing = erased_among(connection, {item.user_id for item in items}, key=key)
    return [item for item in items if item.user_id not in erasing], erasing
