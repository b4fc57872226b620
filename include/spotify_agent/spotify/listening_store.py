"""Warehouse side of listening ingestion: events, per-user cursors, and the files already read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, and_, delete, false, select, text

from spotify_agent.core.quarantine import QuarantinedItem, payload_sha256
from spotify_agent.spotify.listening import ListeningEvent, same_play, unique_events
from spotify_agent.warehouse.schema import (
    catalogue_tracks,
    ingested_files,
    listening_cursors,
    listening_events,
    quarantine,
)
from spotify_agent.warehouse.times import stored_utc
from spotify_agent.warehouse.upsert import upsert


class EventsWritten(NamedTuple):
    """What :func:`write_events` stored: new events, duplicates, and the UTC days of the new ones
    (the ``listening_events`` partitions the write changed)."""

    new: int
    duplicates: int
    days: frozenset[date]


def write_events(
    connection: Connection,
    events: Sequence[ListeningEvent],
    *,
    source: str,
    run_id: str,
    at: datetime,
) -> EventsWritten:
    """Store the plays not stored yet, from any source: an event is a duplicate of a stored one
    of the same user and track whose ``played_at`` is equal after truncating both to the second
    (:func:`~spotify_agent.spotify.listening.same_play`), so a file's whole seconds and the
    API's milliseconds of one play are stored once, whichever came first; the first is kept.

    On PostgreSQL each user's plays are locked for the transaction first, so two ingests of the
    same user at once (a file and recently-played) cannot both find a play new."""
    unique = unique_events(events)
    duplicates = len(events) - len(unique)
    users = sorted({event.user_id for event in unique})
    lock_users(connection, users)
    existing: set[tuple[str, datetime, str]] = set()
    for user_id in users:
        seconds = [event.play_key()[1] for event in unique if event.user_id == user_id]
        query = select(listening_events.c.played_at, listening_events.c.track_id).where(
            and_(
                listening_events.c.user_id == user_id,
                listening_events.c.played_at >= min(seconds),
                listening_events.c.played_at < max(seconds) + timedelta(seconds=1),
            )
        )
        for played_at, track_id in connection.execute(query):
            existing.add(same_play(user_id, stored_utc(played_at), track_id))
    new = [event for event in unique if event.play_key() not in existing]
    upsert(
        connection,
        listening_events,
        [
            {**event.as_row(), "source": source, "run_id": run_id, "ingested_at": at}
            for event in new
        ],
        key=("user_id", "played_at", "track_id"),
        update=[],
    )
    days = frozenset(event.key()[1].date() for event in new)
    return EventsWritten(len(new), duplicates + len(unique) - len(new), days)


def lock_users(connection: Connection, user_ids: Sequence[str]) -> None:
    """Make the check for stored plays and the insert one step for these users: on PostgreSQL a
    transaction-scoped advisory lock per user, in sorted order so two writers never wait on
    each other in a cycle; on SQLite the database's write lock, taken now by a write that
    changes nothing (the driver would begin the transaction only at the insert, after the
    check)."""
    if not user_ids:
        return
    if connection.dialect.name == "sqlite":
        connection.execute(delete(listening_events).where(false()))
        return
    for user_id in sorted(user_ids):
        digest = hashlib.sha256(f"listening_events\x1f{user_id}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def write_catalogue(
    connection: Connection, rows: Sequence[dict[str, object]], *, at: datetime
) -> int:
    """Upsert the tracks seen with the plays (the aggregation's track -> artist dimension)."""
    upsert(
        connection,
        catalogue_tracks,
        # In key order: concurrent ingests then lock shared tracks in the same order.
        [{**row, "updated_at": at} for row in sorted(rows, key=lambda row: str(row["track_id"]))],
        key=("track_id",),
        update=["artist_id", "artist_name", "name", "duration_ms", "updated_at"],
    )
    return len(rows)


def cursor_of(connection: Connection, user_id: str) -> int | None:
    query = select(listening_cursors.c.after_ms).where(listening_cursors.c.user_id == user_id)
    return connection.execute(query).scalar_one_or_none()


def move_cursor(
    connection: Connection, user_id: str, after_ms: int, *, spotify_conn_id: str, at: datetime
) -> None:
    upsert(
        connection,
        listening_cursors,
        [
            {
                "user_id": user_id,
                "spotify_conn_id": spotify_conn_id,
                "after_ms": after_ms,
                "updated_at": at,
            }
        ],
        key=("user_id",),
    )


def already_ingested(connection: Connection, object_key: str, sha256: str) -> bool:
    query = select(ingested_files.c.object_key).where(
        ingested_files.c.object_key == object_key, ingested_files.c.sha256 == sha256
    )
    return connection.execute(query).first() is not None


def ingested_sizes(connection: Connection, object_keys: Sequence[str]) -> dict[str, set[int]]:
    """Sizes already recorded per key (a key may have been read again after a change)."""
    sizes: dict[str, set[int]] = {}
    for start in range(0, len(object_keys), 500):
        query = select(ingested_files.c.object_key, ingested_files.c.size_bytes).where(
            ingested_files.c.object_key.in_(object_keys[start : start + 500])
        )
        for key, size in connection.execute(query):
            sizes.setdefault(key, set()).add(int(size))
    return sizes


def record_file(connection: Connection, row: dict[str, object]) -> None:
    upsert(connection, ingested_files, [row], key=("object_key", "sha256"))


def refused_file(object_key: str, reason: str) -> QuarantinedItem:
    """The quarantine entry of a landed key that is not read (a link, outside the folder):
    a reference to it, nothing of its content."""
    return QuarantinedItem(object_key, {"object_key": object_key}, reason, field="object_key")


def already_refused(connection: Connection, object_keys: Sequence[str]) -> set[str]:
    """The keys among ``object_keys`` whose refusal is in the quarantine already: not listed
    again until the object changes into something readable."""
    found: set[str] = set()
    for start in range(0, len(object_keys), 500):
        chunk = object_keys[start : start + 500]
        digests = {payload_sha256({"object_key": key}): key for key in chunk}
        rows = connection.execute(
            select(quarantine.c.source, quarantine.c.payload_sha256).where(
                quarantine.c.source.in_(chunk), quarantine.c.payload_sha256.in_(list(digests))
            )
        )
        found.update(source for source, digest in rows if digests.get(digest) == source)
    return found
