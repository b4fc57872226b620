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
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.numbers import format_number
from spotify_agent.core.objects import ensure_parent
from spotify_agent.core.quarantine import QuarantinedItem, encode_payload
from spotify_agent.maintenance.confs import REQUEST_ID_PATTERN
from spotify_agent.maintenance.erasure_keys import Keyring, as_keyring
from spotify_agent.maintenance.personal_data import (
    REGISTRY,
    PersonalDataStore,
    Place,
    chunks,
    user_hmac,
    user_ids_in_text,
    without_user,
)
from spotify_agent.spotify.ids import USER_ID_PATTERN
from spotify_agent.spotify.listening import ListeningEvent
from spotify_agent.warehouse.schema import erasure_log, erasure_requests, erasure_steps
from spotify_agent.warehouse.times import stored_utc
from spotify_agent.warehouse.upsert import upsert

ERASURE_LOG_PREFIX = "gdpr/erasure-log"


class ErasureIncomplete(RuntimeError):
    """The search after erasing still finds the user; the named stores are erased again next try."""


class RequestConflict(ValueError):
    """A request id reused for another user."""


class InvalidRequest(ValueError):
    """A request row (a backend may write them directly) that cannot be processed safely."""


class UnknownRequest(PermanentFailure):
    """A run names a request that nobody recorded."""


@dataclass(frozen=True)
class Receipt:
    request_id: str
    user_hmac: str
    key_id: str
    counts: dict[str, int]
    completed_at: datetime
    stores: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return any(self.counts.values())

    def summary(self) -> str:
        if not self.found:
            return "no personal data of this user was found in any registered store"
        items, stores = format_number(sum(self.counts.values())), format_number(len(self.stores))
        return f"erased {items} items from {stores} stores"

    def log_entry(self) -> LogEntry:
        return LogEntry(self.request_id, self.user_hmac, self.key_id, self.completed_at.isoformat())


def record_request(
    connection: Connection,
    *,
    user_id: str,
    keyring: Keyring | None,
    requested_by: str,
    trace_id: str,
    at: datetime,
    request_id: str | None = None,
) -> tuple[str, bool]:
    """Record an erasure request in the warehouse: the only place the raw id is ever written.

    The backend (or ``request-erasure`` in development) calls this, then triggers
    ``gdpr_erasure`` with ``{"request_id": ...}`` or lets the hourly run take it: the raw id
    never enters a run conf, where every Viewer could read it. Returns the request id and
    whether it is new (repeating a request id for the same user is harmless). Without a
    ``keyring`` (a backend that does not hold the erasure key) the hash is left for the next
    ``gdpr_erasure`` run to fill; ingestion keeps the user out meanwhile by the raw id.
    """
    if not isinstance(user_id, str) or not re.fullmatch(USER_ID_PATTERN, user_id):
        raise InvalidRequest("user_id: not a Spotify user id (letters, digits, . _ -)")
    if request_id is not None and not re.fullmatch(REQUEST_ID_PATTERN, request_id):
        raise InvalidRequest(f"request_id: must match {REQUEST_ID_PATTERN}")
    request_id = request_id or f"req-{uuid.uuid4().hex}"
    digest, current = keyring.current_hmac(user_id) if keyring else ("", None)
    existing = request_of(connection, request_id)
    if existing is not None:
        if not _same_user(keyring, existing, user_id):
            raise RequestConflict(f"request_id: {request_id!r} was used for another user")
        return request_id, False
    connection.execute(
        insert(erasure_requests).values(
            request_id=request_id,
            user_id=user_id,
            user_hmac=digest,
            key_id=current,
            status="pending",
            requested_by_run=requested_by,
            trace_id=trace_id,
            requested_at=at,
        )
    )
    return request_id, True


def _hmac_under(keyring: Keyring, user_id: str, wanted_id: str) -> str:
    return user_hmac(user_id, keyring.key(wanted_id))


def _same_user(keyring: Keyring | None, request: Mapping[str, Any], user_id: str) -> bool:
    if request["user_id"] is not None:  # still open: the raw id is there to compare
        return bool(request["user_id"] == user_id)
    stored_key = request["key_id"]
    if keyring is None or not stored_key:
        return False
    return bool(_hmac_under(keyring, user_id, stored_key) == request["user_hmac"])


def waiting_requests(connection: Connection, *, first: str | None, limit: int) -> list[str]:
    """The pending requests to work on: ``first`` (a run's own request) ahead of the oldest.

    A ``first`` that was never recorded fails at once, so a mistyped reference is not taken for
    "nothing to do"; one already completed is not run again.
    """
    if first is not None:
        request = request_of(connection, first)
        if request is None:
            raise UnknownRequest(
                f"request_id: no erasure request {first!r} is recorded in erasure_requests; "
                "record it first (docs/OPERATIONS.md, 'Submit an erasure')"
            )
        if request["status"] == "completed":
            first = None
    query = (
        select(erasure_requests.c.request_id)
        .where(erasure_requests.c.status == "pending")
        .order_by(erasure_requests.c.requested_at, erasure_requests.c.request_id)
        .limit(limit)
    )
    oldest = [
        request_id for request_id in connection.execute(query).scalars() if request_id != first
    ]
    return ([first] if first else []) + oldest[: limit - 1 if first else limit]


def request_of(connection: Connection, request_id: str) -> dict[str, Any] | None:
    row = (
        connection.execute(
            select(erasure_requests).where(erasure_requests.c.request_id == request_id)
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row else None


def checked_user(connection: Connection, request: Mapping[str, Any], *, keyring: Keyring) -> str:
    """The request's user id, after checking the row: a Spotify user id, and the stored hash
    is the id's under the key it names (a backend may leave ``user_hmac`` empty: it is filled
    here under the current key)."""
    user_id, stored, stored_key = request["user_id"], request["user_hmac"], request["key_id"]
    where = f"erasure request {request['request_id']!r}"
    if not isinstance(user_id, str) or not re.fullmatch(USER_ID_PATTERN, user_id):
        raise InvalidRequest(f"{where}: user_id is not a Spotify user id; fix or delete the row")
    if not stored or stored_key is None:
        digest, current = keyring.current_hmac(user_id)
        if stored and stored != digest:
            raise InvalidRequest(
                f"{where}: user_hmac is not the id's hash under the current {keyring.source} "
                "key, and the row names no key_id; leave user_hmac empty to have it filled"
            )
        connection.execute(
            update(erasure_requests)
            .where(erasure_requests.c.request_id == request["request_id"])
            .values(user_hmac=digest, key_id=current)
        )
    elif _hmac_under(keyring, user_id, stored_key) != stored:
        raise InvalidRequest(
            f"{where}: user_hmac is not the id's hash under key {stored_key} "
            f"({keyring.source}); fix or delete the row"
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
        key_id=request["key_id"],
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
    append_log(connection, [receipt.log_entry()])
    return receipt


@dataclass(frozen=True)
class LogEntry:
    """One completed erasure: who (a keyed hash), under which key, by which request, when."""

    request_id: str
    user_hmac: str
    key_id: str | None
    erased_at: str  # ISO 8601, as written to the object store

    def as_row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "user_hmac": self.user_hmac,
            "key_id": self.key_id,
            "erased_at": datetime.fromisoformat(self.erased_at),
        }


def append_log(connection: Connection, entries: Iterable[LogEntry]) -> None:
    """Add entries to the warehouse's log; an entry already there keeps its values, except that
    one written before key ids gets its key id."""
    entries = list(entries)
    stamped = [entry.as_row() for entry in entries if entry.key_id is not None]
    upsert(connection, erasure_log, stamped, key=("request_id",), update=["key_id"])
    unstamped = [entry.as_row() for entry in entries if entry.key_id is None]
    upsert(connection, erasure_log, unstamped, key=("request_id",), update=[])


def log_object(objects: Any, request_id: str) -> Any:
    return objects / ERASURE_LOG_PREFIX / f"{request_id}.json"


def write_log_object(objects: Any, entry: LogEntry) -> bool:
    """The erasure log's copy outside the warehouse, so it outlives losing the warehouse.

    Append-only: one object per request, never rewritten (a re-run of a completed request
    finds its object there). Returns whether it wrote one.
    """
    path = log_object(objects, entry.request_id)
    if path.exists():
        return False
    ensure_parent(path)
    path.write_text(json.dumps(asdict(entry), sort_keys=True))
    return True


def log_entries(objects: Any | None, connection: Connection | None = None) -> list[LogEntry]:
    """Every completed erasure, from the object store's copy and the warehouse's (either may be
    all that is left after a loss), one per request, the ones naming their key first.

    Objects written before key ids (named by the hash, no ``key_id``) get theirs from the
    warehouse's entry of the same request, or stay unstamped until ``migrate-warehouse``.
    """
    found: dict[str, LogEntry] = {}

    def keep(entry: LogEntry) -> None:
        known = found.get(entry.request_id)
        if known is None or (known.key_id is None and entry.key_id is not None):
            found[entry.request_id] = entry

    if objects is not None:
        folder = objects / ERASURE_LOG_PREFIX
        if folder.exists():
            for path in folder.iterdir():
                keep(_read_log_object(path))
    if connection is not None:
        for row in connection.execute(select(erasure_log)).mappings():
            keep(
                LogEntry(
                    request_id=row["request_id"],
                    user_hmac=row["user_hmac"],
                    key_id=row["key_id"],
                    erased_at=stored_utc(row["erased_at"]).isoformat(),
                )
            )
    return sorted(found.values(), key=lambda entry: (entry.erased_at, entry.request_id))


class UnreadableLog(ValueError):
    """An erasure-log object that cannot be read: nobody can say whom it erased."""


def _read_log_object(path: Any) -> LogEntry:
    try:
        raw = json.loads(path.read_text())
        return LogEntry(
            request_id=str(raw["request_id"]),
            user_hmac=str(raw["user_hmac"]),
            key_id=raw.get("key_id"),
            erased_at=datetime.fromisoformat(str(raw["erased_at"])).isoformat(),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise UnreadableLog(
            f"erasure-log object {path} is unreadable ({type(error).__name__}: {error}); "
            "restore it from the store's versioning or its warehouse copy (erasure_log)"
        ) from None


def stamp_legacy_entries(connection: Connection, objects: Any | None, *, keyring: Keyring) -> int:
    """Give entries and requests written before key ids the current key's id (before key ids
    the key could not change, so the current key made them all); each object-store entry
    without one gets a stamped copy beside it. Returns how many were stamped."""
    current = keyring.current_id
    stamped = 0
    for table in (erasure_log, erasure_requests):
        result = connection.execute(
            update(table)
            .where(table.c.key_id.is_(None), table.c.user_hmac != "")
            .values(key_id=current)
        )
        stamped += int(result.rowcount or 0)
    if objects is not None:
        for entry in log_entries(objects):
            if entry.key_id is None:
                write_log_object(objects, replace(entry, key_id=current))
                stamped += 1
    return stamped


def referenced_key_ids(connection: Connection) -> list[str | None]:
    """The keys the warehouse's log and hashed requests were made with (None: not stamped)."""
    ids: set[str | None] = set(
        connection.execute(select(erasure_log.c.key_id).distinct()).scalars()
    )
    ids |= set(
        connection.execute(
            select(erasure_requests.c.key_id).where(erasure_requests.c.user_hmac != "").distinct()
        ).scalars()
    )
    return sorted(ids, key=lambda value: value or "")


def replay_erasures(
    connection: Connection,
    entries: Sequence[LogEntry],
    *,
    keyring: Keyring,
    at: datetime,
    stores: Sequence[PersonalDataStore] = REGISTRY,
) -> dict[str, int]:
    """Erase again, in a restored warehouse, every user the erasure log names (under whichever
    key made each entry), and put the log back in it, so ingestion keeps them out too.

    Fails before changing anything when an entry's key is not held: a replay that cannot match
    every entry would leave someone in the copy and look complete.
    """
    keyring.require(entry.key_id for entry in entries)
    place = Place(connection)
    warehouse_stores = [store for store in stores if store.kind == "warehouse"]
    candidates = set(
        connection.execute(
            select(erasure_requests.c.user_id).where(erasure_requests.c.user_id.is_not(None))
        ).scalars()
    )
    for store in warehouse_stores:
        candidates |= store.user_ids(place)
    logged = {(entry.key_id, entry.user_hmac) for entry in entries}
    hashed = keyring.hmacs(candidates, {entry.key_id for entry in entries if entry.key_id})
    erased = sorted({user_id for pair, user_id in hashed.items() if pair in logged})
    counts = {store.name: 0 for store in warehouse_stores}
    for user_id in erased:
        for store in warehouse_stores:
            counts[store.name] += store.erase(place, user_id)
    # A request still open in the backup keeps its raw id: close it as the live one was closed.
    for chunk in chunks(erased, 500):
        connection.execute(
            update(erasure_requests)
            .where(erasure_requests.c.user_id.in_(chunk))
            .values(user_id=None, status="completed", completed_at=at)
        )
    append_log(connection, entries)
    counts["users"] = len(erased)
    return counts


def erased_among(
    connection: Connection, user_ids: Iterable[str], *, key: Keyring | bytes
) -> set[str]:
    """Which of ``user_ids`` are erased or being erased (a request is open, or their hash is in
    the erasure log under any key it refers to): from the moment a request is recorded, nothing
    new of theirs is kept. Fails naming the key when the log refers to one not held."""
    keyring = as_keyring(key)
    wanted = set(user_ids)
    if not wanted:
        return set()
    referenced = referenced_key_ids(connection)
    keyring.require(referenced)
    hashed = keyring.hmacs(wanted, [key_id for key_id in referenced if key_id])
    by_hmac: dict[str, list[tuple[str, str]]] = {}
    for (key_id, digest), user_id in hashed.items():
        by_hmac.setdefault(digest, []).append((key_id, user_id))
    erased: set[str] = set()
    for chunk in chunks(sorted(by_hmac), 500):
        for table in (erasure_log, erasure_requests):
            query = select(table.c.key_id, table.c.user_hmac).where(table.c.user_hmac.in_(chunk))
            for key_id, digest in connection.execute(query):
                erased.update(uid for kid, uid in by_hmac[digest] if kid == key_id)
    # Requests a backend wrote and no run has hashed yet hold only the raw id.
    for chunk in chunks(sorted(wanted), 500):
        query = select(erasure_requests.c.user_id).where(
            erasure_requests.c.user_id.in_(chunk), erasure_requests.c.status == "pending"
        )
        erased.update(connection.execute(query).scalars())
    return erased


def without_erased(
    connection: Connection,
    events: Sequence[ListeningEvent],
    quarantined: Sequence[QuarantinedItem],
    *,
    key: Keyring | bytes,
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


@dataclass(frozen=True)
class IngestGuard:
    """What an ingest asks so that an erasure sticks, under the deployment's keys: whether a
    listener is erased, a batch without the erased users, a landed file's bytes without one
    user's rows. The ingest (``spotify_agent.spotify.listening_ingest``) takes it as a port:
    the ``spotify`` domain does not import this one."""

    key: Keyring | bytes

    def erased_among(self, connection: Connection, user_ids: Iterable[str]) -> set[str]:
        return erased_among(connection, user_ids, key=self.key)

    def without_erased(
        self,
        connection: Connection,
        events: Sequence[ListeningEvent],
        quarantined: Sequence[QuarantinedItem],
    ) -> tuple[list[ListeningEvent], list[QuarantinedItem], set[str]]:
        return without_erased(connection, events, quarantined, key=self.key)

    def without_user(self, data: bytes, *, key: str, user_id: str) -> tuple[bytes, int]:
        return without_user(data, key=key, user_id=user_id)


def _item_text(payload: Any) -> str:
    encoding, text = encode_payload(payload)
    if encoding == "base64":
        return bytes(payload).decode("utf-8", errors="replace")
    return text
