"""Warehouse reads and writes of artist monitoring; every write is an upsert on a natural key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import Connection, delete, func, select

from spotify_agent.spotify.models import SimplifiedAlbum
from spotify_agent.spotify.monitoring import (
    ArtistEvent,
    ArtistSnapshot,
    SnapshotBatch,
    detect_changes,
)
from spotify_agent.warehouse.schema import (
    artist_events,
    artist_releases,
    artist_snapshots,
    watched_artists,
)
from spotify_agent.warehouse.upsert import upsert


def watch(connection: Connection, artist_ids: Iterable[str], *, run_id: str, at: datetime) -> int:
    """Add ids to the watch list (ids already there keep their original row)."""
    rows = [
        {"artist_id": artist_id, "added_at": at, "added_by_run": run_id, "active": True}
        for artist_id in sorted(set(artist_ids))
    ]
    return upsert(connection, watched_artists, rows, key=("artist_id",), update=["active"])


def watched_ids(connection: Connection) -> list[str]:
    query = select(watched_artists.c.artist_id).where(watched_artists.c.active.is_(True))
    return sorted(connection.execute(query).scalars())


def previous_snapshots(
    connection: Connection, artist_ids: Sequence[str], *, before: date
) -> dict[str, ArtistSnapshot]:
    """Each artist's latest snapshot strictly before ``before`` (what a re-run compares with)."""
    latest = (
        select(
            artist_snapshots.c.artist_id, func.max(artist_snapshots.c.snapshot_date).label("day")
        )
        .where(
            artist_snapshots.c.artist_id.in_(artist_ids), artist_snapshots.c.snapshot_date < before
        )
        .group_by(artist_snapshots.c.artist_id)
        .subquery()
    )
    query = select(artist_snapshots).join(
        latest,
        (artist_snapshots.c.artist_id == latest.c.artist_id)
        & (artist_snapshots.c.snapshot_date == latest.c.day),
    )
    return {
        row["artist_id"]: ArtistSnapshot.from_row(row)
        for row in connection.execute(query).mappings()
    }


def write_snapshots(
    connection: Connection,
    snapshots: Sequence[ArtistSnapshot],
    releases: Mapping[str, Sequence[SimplifiedAlbum]],
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> int:
    """One snapshot per artist and day (a re-run replaces it); releases keep their first-seen day."""
    upsert(
        connection,
        artist_snapshots,
        [
            {**s.as_row(), "run_id": run_id, "trace_id": trace_id, "captured_at": at}
            for s in snapshots
        ],
        key=("artist_id", "snapshot_date"),
    )
    release_rows = [
        {
            "artist_id": snapshot.artist_id,
            "album_id": album.id,
            "name": album.name,
            "album_type": album.album_type,
            "release_date": album.release_date,
            "total_tracks": album.total_tracks,
            "first_seen_date": snapshot.snapshot_date,
        }
        for snapshot in snapshots
        for album in releases.get(snapshot.artist_id, ())
    ]
    upsert(
        connection,
        artist_releases,
        release_rows,
        key=("artist_id", "album_id"),
        update=["name", "album_type", "release_date", "total_tracks"],
    )
    return len(snapshots)


def write_events(
    connection: Connection,
    events: Sequence[ArtistEvent],
    *,
    artist_ids: Sequence[str],
    day: date,
    run_id: str,
    trace_id: str,
) -> int:
    """Replace the day's events of ``artist_ids`` (a re-run that finds fewer leaves no stale ones)."""
    connection.execute(
        delete(artist_events).where(
            artist_events.c.artist_id.in_(artist_ids), artist_events.c.snapshot_date == day
        )
    )
    rows = [{**event.as_row(), "run_id": run_id, "trace_id": trace_id} for event in events]
    return upsert(
        connection, artist_events, rows, key=("artist_id", "snapshot_date", "event_type", "subject")
    )


def record_batch(
    connection: Connection,
    batch: SnapshotBatch,
    *,
    day: date,
    follower_jump_pct: float,
    popularity_jump: int,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> tuple[int, int]:
    """Store a batch's snapshots and the changes since each artist's previous snapshot.

    Returns (snapshots written, events found); one transaction, so a retry starts clean.
    """
    artist_ids = [snapshot.artist_id for snapshot in batch.snapshots]
    previous = previous_snapshots(connection, artist_ids, before=day)
    events = [
        event
        for snapshot in batch.snapshots
        for event in detect_changes(
            previous.get(snapshot.artist_id),
            snapshot,
            follower_jump_pct=follower_jump_pct,
            popularity_jump=popularity_jump,
        )
    ]
    written = write_snapshots(
        connection, batch.snapshots, batch.releases, run_id=run_id, trace_id=trace_id, at=at
    )
    write_events(
        connection, events, artist_ids=artist_ids, day=day, run_id=run_id, trace_id=trace_id
    )
    return written, len(events)
