"""The ``recommendation_update`` job: load the serving model (refusing one whose files fail their
SHA-256, before anything is written), recommend ``k`` tracks to every listener active in the
last ``active_days``, replace the (model, day) set with its audit row in one transaction, then,
with a cache, publish it under versioned keys and move ``recs:current`` to it.

Idempotent: the (model, day) set is replaced as a whole, so a re-run writes the same set; a
listener being erased gets no rows, checked again inside the write and before the publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from spotify_agent.core.audit import Attempt
from spotify_agent.core.erased import ErasedAmong
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.numbers import format_number
from spotify_agent.ml.confs import RecommendationUpdateConf
from spotify_agent.ml.publish import RedisLike, publish, set_version
from spotify_agent.ml.recommend import Recommendation, RecommendCounts, recommend
from spotify_agent.ml.recommendation_store import (
    known_tracks,
    listening_histories,
    popular_tracks,
    replace_recommendations,
)
from spotify_agent.ml.registry import LoadedModel, ModelIntegrityError, load_model, serving_model
from spotify_agent.warehouse.times import midnight_utc

NO_SERVING_MODEL = "no model serves yet: model_training has promoted none"


@dataclass(frozen=True)
class RecommendationUpdate:
    """What the run wrote: the set's model and day, its counts, and the users put in Redis."""

    day: date
    model_id: str | None  # None: no model serves yet, nothing was written
    counts: dict[str, int]
    redis_users: int = 0
    published: str = "the cache is off: the set is in the warehouse only"

    @property
    def skipped(self) -> str | None:
        """Why nothing was done, when nothing was."""
        return NO_SERVING_MODEL if self.model_id is None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "day": self.day.isoformat(),
            **self.counts,
            "redis_users": self.redis_users,
        }

    def summary_line(self) -> str:
        if self.skipped:
            return self.skipped
        said = f"{self.model_id} for {self.day}: {format_number(self.counts['users'])} listeners"
        recommendations = format_number(self.counts["recommendations"])
        return f"{said}, {recommendations} recommendations; {self.published}"


def update_recommendations(
    engine: Engine,
    interval_end: datetime,
    conf: RecommendationUpdateConf,
    attempt: Attempt,
    *,
    models: Any,
    erased: ErasedAmong,
    cache: RedisLike | None = None,
    now: datetime | None = None,
) -> RecommendationUpdate:
    """Recommend, store and publish the serving model's set for ``conf.day`` (default: the day
    the run's interval ends). ``models`` is the object store root the model's files are under."""
    end = midnight_utc(conf.day) if conf.day else interval_end
    day = end.date()
    with engine.connect() as connection:
        serving = serving_model(connection)
    if serving is None:
        return RecommendationUpdate(day, None, {})
    loaded = _checked_model(engine, models, serving["model_id"], attempt, now=now)
    items, counts = _recommendations(engine, loaded, conf, end)
    with engine.begin() as connection:
        items = _write_set(connection, loaded, day, items, counts, conf, attempt, erased, now=now)
    if cache is None:
        return RecommendationUpdate(day, loaded.model_id, counts.as_dict())
    with engine.connect() as connection:  # again: the publish comes after the commit
        kept = _without_erasing(connection, items, erased)[0]
    users, published = _publish(engine, cache, loaded.model_id, day, kept, attempt, now=now)
    return RecommendationUpdate(day, loaded.model_id, counts.as_dict(), users, published)


def _checked_model(
    engine: Engine, models: Any, model_id: str, attempt: Attempt, *, now: datetime | None
) -> LoadedModel:
    """The model, or a refusal audited and raised: tampered files must write nothing."""
    try:
        return load_model(models, model_id)
    except ModelIntegrityError as error:
        with engine.begin() as connection:
            attempt.record(
                connection,
                "recommendations_refused",
                outcome="refused",
                entity_type="model",
                entity_key=model_id,
                detail=str(error),
                at=now,
            )
        raise PermanentFailure(f"nothing written: {error}") from None


def _recommendations(
    engine: Engine, loaded: LoadedModel, conf: RecommendationUpdateConf, end: datetime
) -> tuple[list[Recommendation], RecommendCounts]:
    with engine.connect() as connection:
        histories = listening_histories(
            connection,
            active_since=end - timedelta(days=conf.active_days),
            history_start=end - timedelta(days=conf.history_days),
            end=end,
        )
        catalogue = known_tracks(connection)
        popular = popular_tracks(connection, start=end - timedelta(days=conf.active_days), end=end)
    return recommend(
        loaded.model, loaded.item_ids, histories, k=conf.k, catalogue=catalogue, popular=popular
    )


def _write_set(
    connection: Connection,
    loaded: LoadedModel,
    day: date,
    items: list[Recommendation],
    counts: RecommendCounts,
    conf: RecommendationUpdateConf,
    attempt: Attempt,
    erased: ErasedAmong,
    *,
    now: datetime | None,
) -> list[Recommendation]:
    """Replace the (model, day) set and audit it; returns the items written. ``counts`` leaves
    out the listeners being erased."""
    # In the write's transaction: a listener whose erasure began after the histories were read
    # must not get rows back.
    kept, erasing = _without_erasing(connection, items, erased)
    counts.users -= len(erasing)
    counts.recommendations -= len(items) - len(kept)
    at = now or datetime.now(UTC)
    written = replace_recommendations(
        connection,
        loaded.model_id,
        day,
        kept,
        run_id=attempt.run_id,
        trace_id=attempt.trace_id,
        at=at,
    )
    attempt.record(
        connection,
        "recommendations_written",
        counts={**counts.as_dict(), "rows_written": written, "erased_users_left_out": len(erasing)},
        entity_type="recommendation_set",
        entity_key=f"{loaded.model_id}:{day.isoformat()}",
        detail=f"k={conf.k}, model {loaded.model_id} ({loaded.card['kind']})",
        at=at,
    )
    return kept


def _publish(
    engine: Engine,
    cache: RedisLike,
    model_id: str,
    day: date,
    items: list[Recommendation],
    attempt: Attempt,
    *,
    now: datetime | None,
) -> tuple[int, str]:
    """Publish the set under its version and audit it; returns the users and what moved."""
    version = set_version(model_id, day, attempt.run_id)
    users, current = publish(cache, version, items)
    detail = (
        f"recs:current -> {version}"
        if current
        else f"{version} written; recs:current stays on a later day"
    )
    with engine.begin() as connection:
        attempt.record(
            connection,
            "recommendations_published",
            counts={"users": users},
            entity_type="recommendation_set",
            entity_key=version,
            detail=detail,
            at=now,
        )
    return users, f"Redis: {users} users, {detail}"


def _without_erasing(
    connection: Connection, items: list[Recommendation], erased: ErasedAmong
) -> tuple[list[Recommendation], set[str]]:
    """``items`` less those of listeners erased or being erased, and who those are."""
    erasing = erased(connection, {item.user_id for item in items})
    return [item for item in items if item.user_id not in erasing], erasing
