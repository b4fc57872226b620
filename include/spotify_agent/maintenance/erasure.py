"""GDPR erasure: requests, resumable per-store steps, the proof, the receipt and the erasure log.

A request moves ``pending -> completed``. Each registered store is erased in its own step, and
the step is recorded in the same transaction as a warehouse store's deletes (an object-store
step is recorded after its rewrite, which is safe to repeat), so a run killed midway resumes
with the stores not done yet. Completion needs proof: a search of every store finds nothing.
The raw id is then cleared from the request; what remains is its keyed hash, in the receipt and
in the erasure log that is replayed on every restored backup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from spotify_agent.core.objects import ensure_parent
from spotify_agent.core.quarantine import QuarantinedItem, encode_payload
from spotify_agent.maintenance.personal_data import (
    REGISTRY,
    PersonalDataStore,
    Place,
    user_hmac,
    user_ids_in_text,
)
from spotify_agent.spotify.ids import USER_ID_PATTERN
from spotify_agent.spotify.listening import ListeningEvent
from spotify_agent.warehouse.schema import erasure_log, erasure_requests, erasure_steps
from spotify_agent.warehouse.upsert import upsert

ERASURE_LOG_PREFIX = "gdpr/erasure-log"


class ErasureIncomplete(RuntimeError):
    """The search after erasing still finds the user; the named stores are erased again next try."""


class RequestConflict(ValueError):
    """A request id reused for another user."""


class InvalidRequest(ValueError):
    """A request row (a backend may write them directly) that cannot be processed safely."""


@dataclass(frozen=True)
class Receipt:
    request_id: str
    user_hmac: str
    counts: dict[str, int]
    completed_at: datetime
    stores: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return any(self.counts.values())

    def summary(self) -> str:
        if not self.found:
            return "no personal data of this user was found in any registered store"
        return f"erased {sum(self.counts.values())} items from {len(self.stores)} stores"


def open_request(
    connection: Connection,
    *,
    request_id: str,
    user_id: str,
    key: bytes,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> bool:
    """Record a request; False when it exists already (a re-run or a repeated trigger)."""
    digest = user_hmac(user_id, key)
    existing = connection.execute(
        select(erasure_requests.c.user_hmac).where(erasure_requests.c.request_id == request_id)
    ).scalar_one_or_none()
    if existing is not None:
        if existing != digest:
            raise RequestConflict(f"request_id: {request_id!r} was used for another user")
        return False
    connection.execute(
        insert(erasure_requests).values(
            request_id=request_id,
            user_id=user_id,
            user_hmac=digest,
            status="pending",
            requested_by_run=run_id,
            trace_id=trace_id,
            requested_at=at,
        )
    )
    return True


def pending_requests(connection: Connection, *, limit: int) -> list[str]:
    query = (
        select(erasure_requests.c.request_id)
        .where(erasure_requests.c.status == "pending")
        .order_by(erasure_requests.c.requested_at, erasure_requests.c.request_id)
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def request_of(connection: Connection, request_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(
            select(erasure_requests).where(erasure_requests.c.request_id == request_id)
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


def checked_user(connection: Connection, request: Mapping[str, Any], *, key: bytes) -> str:
    """The request's user id, after checking the row: a Spotify user id, and the stored hash
    is the id's under this key (a backend may leave ``user_hmac`` empty: it is filled here)."""
    user_id, stored = request["user_id"], request["user_hmac"]
    where = f"erasure request {request['request_id']!r}"
    if not isinstance(user_id, str) or not re.fullmatch(USER_ID_PATTERN, user_id):
        raise InvalidRequest(f"{where}: user_id is not a Spotify user id; fix or delete the row")
    digest = user_hmac(user_id, key)
    if not stored:
        connection.execute(
            update(erasure_requests)
            .where(erasure_requests.c.request_id == request["request_id"])
            .values(user_hmac=digest)
        )
    elif stored != digest:
        raise InvalidRequest(
            f"{where}: user_hmac is not the id's hash under the gdpr_erasure_key key "
            "(written with another key?)"
        )
    return user_id


def erase_stores(
    engine: Engine,
    objects: Any,
    *,
    request_id: str,
    user_id: str,
    run_id: str,
    at: datetime,
    stores: Sequence[PersonalDataStore] = REGISTRY,
    cache: Any | None = None,
) -> dict[str, int]:
    """Erase the user from every store not done yet for this request; returns this call's counts.
    ``cache`` is the Redis client where the deployment has a cache.

    Each part of a store (a file) is committed with its count, so an attempt killed midway
    leaves a count that the next attempt adds to. The one window left: a file rewritten just
    before a kill is found clean by the next attempt, so its rows are missing from the count.
    """
    with engine.connect() as connection:
        steps = dict(
            connection.execute(
                select(erasure_steps.c.store, erasure_steps.c.status).where(
                    erasure_steps.c.request_id == request_id
                )
            ).all()
        )
    counts: dict[str, int] = {}
    for store in stores:
        if steps.get(store.name) == "done":
            continue
        step = (erasure_steps.c.request_id == request_id) & (erasure_steps.c.store == store.name)
        if store.name not in steps:
            with engine.begin() as connection:
                connection.execute(
                    insert(erasure_steps).values(
                        request_id=request_id,
                        store=store.name,
                        status="started",
                        erased=0,
                        run_id=run_id,
                        done_at=at,
                    )
                )
        counts[store.name] = 0
        with engine.connect() as connection:
            parts = store.parts(Place(connection, objects, cache))
        for part in parts:
            with engine.begin() as connection:
                erased = store.erase_part(Place(connection, objects, cache), part, user_id)
                if erased:
                    connection.execute(
                        update(erasure_steps)
                        .where(step)
                        .values(erased=erasure_steps.c.erased + erased)
                    )
            counts[store.name] += erased
        with engine.begin() as connection:
            connection.execute(
                update(erasure_steps).where(step).values(status="done", run_id=run_id, done_at=at)
            )
    return counts


def verify_erased(
    engine: Engine,
    objects: Any,
    *,
    request_id: str,
    user_id: str,
    stores: Sequence[PersonalDataStore] = REGISTRY,
    cache: Any | None = None,
) -> None:
    """Search every store; anything found reopens that store's step (its count kept) and raises."""
    with engine.begin() as connection:
        place = Place(connection, objects, cache)
        remaining = {store.name: store.find(place, user_id) for store in stores}
        remaining = {name: count for name, count in remaining.items() if count}
        if remaining:
            connection.execute(
                update(erasure_steps)
                .where(
                    erasure_steps.c.request_id == request_id,
                    erasure_steps.c.store.in_(list(remaining)),
                )
                .values(status="started")
            )
    if remaining:
        found = ", ".join(f"{name}: {count}" for name, count in sorted(remaining.items()))
        raise ErasureIncomplete(
            f"request {request_id}: the search after erasing still finds the user ({found}); "
            "the next try erases those stores again"
        )


def complete_request(
    connection: Connection,
    *,
    request_id: str,
    at: datetime,
    stores: Sequence[PersonalDataStore] = REGISTRY,
) -> Receipt:
    """Close a verified request: counts from its steps, the raw id cleared, the hash logged."""
    request = request_of(connection, request_id)
    if request is None:
        raise LookupError(f"request_id: no erasure request {request_id!r}")
    steps = dict(
        connection.execute(
            select(erasure_steps.c.store, erasure_steps.c.erased).where(
                erasure_steps.c.request_id == request_id
            )
        ).all()
    )
    counts = {store.name: int(steps.get(store.name, 0)) for store in stores}
    receipt = Receipt(
        request_id=request_id,
        user_hmac=request["user_hmac"],
        counts=counts,
        completed_at=at,
        stores=[store.name for store in stores],
    )
    connection.execute(
        update(erasure_requests)
        .where(erasure_requests.c.request_id == request_id)
        .values(
            status="completed",
            user_id=None,
            completed_at=at,
            counts=counts,
            detail=receipt.summary(),
        )
    )
    upsert(
        connection,
        erasure_log,
        [{"user_hmac": receipt.user_hmac, "request_id": request_id, "erased_at": at}],
        key=("user_hmac",),
        update=[],
    )
    return receipt


def log_object(objects: Any, digest: str) -> Any:
    return objects / ERASURE_LOG_PREFIX / f"{digest}.json"


def write_log_object(objects: Any, *, digest: str, request_id: str, at: datetime) -> None:
    """The erasure log's copy outside the warehouse, so it outlives losing the warehouse."""
    path = log_object(objects, digest)
    ensure_parent(path)
    entry = {"user_hmac": digest, "request_id": request_id, "erased_at": at.isoformat()}
    path.write_text(json.dumps(entry, sort_keys=True))


def logged_hmacs(objects: Any | None, connection: Connection | None = None) -> dict[str, str]:
    """Every erased user's hash, with its request id, from the object store's copy and the
    warehouse's (either may be all that is left after a loss)."""
    digests: dict[str, str] = {}
    if objects is not None:
        folder = objects / ERASURE_LOG_PREFIX
        if folder.exists():
            for path in folder.iterdir():
                entry = json.loads(path.read_text())
                digests[str(entry["user_hmac"])] = str(entry["request_id"])
    if connection is not None:
        digests.update(
            connection.execute(select(erasure_log.c.user_hmac, erasure_log.c.request_id)).all()
        )
    return digests


def replay_erasures(
    connection: Connection,
    digests: Mapping[str, str],
    *,
    key: bytes,
    at: datetime,
    stores: Sequence[PersonalDataStore] = REGISTRY,
) -> dict[str, int]:
    """Erase again, in a restored warehouse, every user whose hash is in the erasure log
    (``{hmac: request id}``), and put the log back in it, so ingestion keeps them out too."""
    place = Place(connection)
    warehouse_stores = [store for store in stores if store.kind == "warehouse"]
    candidates = set(
        connection.execute(
            select(erasure_requests.c.user_id).where(erasure_requests.c.user_id.is_not(None))
        ).scalars()
    )
    for store in warehouse_stores:
        candidates |= store.user_ids(place)
    erased = sorted(uid for uid in candidates if user_hmac(uid, key) in digests)
    counts = {store.name: 0 for store in warehouse_stores}
    for user_id in erased:
        for store in warehouse_stores:
            counts[store.name] += store.erase(place, user_id)
    # A request still open in the backup keeps its raw id: close it as the live one was closed.
    ordered = sorted(digests)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        connection.execute(
            update(erasure_requests)
            .where(erasure_requests.c.user_hmac.in_(chunk))
            .values(user_id=None, status="completed")
        )
    upsert(
        connection,
        erasure_log,
        [{"user_hmac": d, "request_id": digests[d], "erased_at": at} for d in ordered],
        key=("user_hmac",),
        update=[],
    )
    counts["users"] = len(erased)
    return counts


def erased_among(connection: Connection, user_ids: Iterable[str], *, key: bytes) -> set[str]:
    """Which of ``user_ids`` are erased or being erased (a request is open, or their HMAC is
    in the erasure log): from the moment a request is recorded, nothing new of theirs is kept."""
    by_digest = {user_hmac(user_id, key): user_id for user_id in set(user_ids)}
    digests = sorted(by_digest)
    erased: set[str] = set()
    for start in range(0, len(digests), 500):
        chunk = digests[start : start + 500]
        for column in (erasure_log.c.user_hmac, erasure_requests.c.user_hmac):
            query = select(column).where(column.in_(chunk))
            erased.update(by_digest[digest] for digest in connection.execute(query).scalars())
    return erased


def without_erased(
    connection: Connection,
    events: Sequence[ListeningEvent],
    quarantined: Sequence[QuarantinedItem],
    *,
    key: bytes,
) -> tuple[list[ListeningEvent], list[QuarantinedItem], set[str]]:
    """Drop what names an erased user from a batch about to be stored: an erasure must stick
    when a late file or a still-connected account brings the user back. Returns the kept
    events and quarantine items, and the erased users found."""
    mentioned = [
        user_ids_in_text(f"{item.source} {_item_text(item.payload)}") for item in quarantined
    ]
    candidates = {event.user_id for event in events}.union(*mentioned)
    erased = erased_among(connection, candidates, key=key)
    kept_events = [event for event in events if event.user_id not in erased]
    kept_items = [
        item for item, names in zip(quarantined, mentioned, strict=True) if not names & erased
    ]
    return kept_events, kept_items, erased


def _item_text(payload: Any) -> str:
    encoding, text = encode_payload(payload)
    if encoding == "base64":
        return bytes(payload).decode("utf-8", errors="replace")
    return text
