"""Recommendations in Redis under versioned keys, swapped in for readers by one pointer.

A set is written in full under ``<prefix>:<version>:<user_id>`` (a JSON list of
``{"track_id", "reason"}``), with ``version = <model_id>:<day>:<run>`` (the run's own tag, so
two runs for the same day never write into each other's set), then ``<prefix>:current`` is
set to the version in one command. A reader does ``GET recs:current`` then
``GET recs:<current>:<user_id>`` and never sees a half-written set. The pointer only moves
forward: a run for an older day writes its set but leaves readers on the newer one. Every key
of a set expires after ``ttl`` (the previous set stays readable until then, for readers that
fetched the old pointer).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy and scipy: the erasure registry imports this module for its keys
    from spotify_agent.ml.recommend import Recommendation

PREFIX = "recs"
DEFAULT_TTL = timedelta(days=8)


class RedisLike(Protocol):
    def pipeline(self, transaction: bool = ...) -> Any: ...


def set_version(model_id: str, day: date, run_id: str) -> str:
    tag = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    return f"{model_id}:{day.isoformat()}:{tag}"


def pointer_key(prefix: str = PREFIX) -> str:
    return f"{prefix}:current"


def user_key(version: str, user_id: str, prefix: str = PREFIX) -> str:
    return f"{prefix}:{version}:{user_id}"


def publish(
    client: RedisLike,
    version: str,
    items: Iterable[Recommendation],
    *,
    ttl: timedelta = DEFAULT_TTL,
    prefix: str = PREFIX,
    chunk: int = 1_000,
) -> tuple[int, bool]:
    """Write the set, then move the pointer to it unless it points at a later day.

    Returns the users written and whether readers now see this set.
    """
    seconds = int(ttl.total_seconds())
    users = 0
    pipe = client.pipeline(transaction=False)
    ordered = sorted(items, key=lambda item: (item.user_id, item.rank))
    for user_id, picks in groupby(ordered, key=lambda item: item.user_id):
        body = [{"track_id": p.track_id, "reason": p.reason} for p in picks]
        pipe.set(user_key(version, user_id, prefix), json.dumps(body), ex=seconds)
        users += 1
        if users % chunk == 0:
            pipe.execute()
    pipe.set(f"{prefix}:{version}:__users__", str(users), ex=seconds)
    pipe.execute()
    return users, _swap(client, pointer_key(prefix), version)


def _day_of(version: str) -> str:
    return version.split(":")[1]


def _swap(client: RedisLike, pointer: str, version: str) -> bool:
    """Point readers at ``version`` in one command, never back to an older day (WATCH/MULTI:
    a concurrent swap makes this one look again)."""
    from redis.exceptions import WatchError

    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(pointer)
                current = pipe.get(pointer)
                if current is not None and _day_of(current.decode()) > _day_of(version):
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.set(pointer, version)
                pipe.execute()
                return True
            except WatchError:
                continue
