"""Warehouse side of ``playlist_update``: which playlists are managed, their targets, the sync log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from spotify_agent.spotify.confs import ManagedPlaylistSpec
from spotify_agent.spotify.playlists import SyncResult
from spotify_agent.warehouse.schema import listening_events, managed_playlists, playlist_syncs
from spotify_agent.warehouse.times import day_start_utc
from spotify_agent.warehouse.upsert import upsert


@dataclass(frozen=True)
class ManagedPlaylist:
    playlist_id: str
    spotify_conn_id: str
    rule: str
    size: int
    window_days: int
    track_ids: tuple[str, ...]

    @classmethod
    def from_row(cls, row: Any) -> ManagedPlaylist:
        return cls(
            playlist_id=row["playlist_id"],
            spotify_conn_id=row["spotify_conn_id"],
            rule=row["rule"],
            size=row["size"],
            window_days=row["window_days"],
            track_ids=tuple(row["track_ids"] or ()),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, for XCom (the mapped sync task's argument)."""
        return {
            "playlist_id": self.playlist_id,
            "spotify_conn_id": self.spotify_conn_id,
            "rule": self.rule,
            "size": self.size,
            "window_days": self.window_days,
            "track_ids": list(self.track_ids),
        }


def manage(
    connection: Connection, specs: Iterable[ManagedPlaylistSpec], *, run_id: str, at: datetime
) -> int:
    """Start managing playlists, or change their rule (the latest spec wins)."""
    rows = [
        {
            "playlist_id": spec.playlist_id,
            "spotify_conn_id": spec.spotify_conn_id,
            "rule": spec.rule,
            "size": spec.size,
            "window_days": spec.window_days,
            "track_ids": list(spec.track_ids),
            "active": True,
            "added_by_run": run_id,
            "updated_at": at,
        }
        for spec in specs
    ]
    columns = ["spotify_conn_id", "rule", "size", "window_days", "track_ids", "active"]
    return upsert(
        connection, managed_playlists, rows, key=("playlist_id",), update=[*columns, "updated_at"]
    )


def unmanage(connection: Connection, playlist_ids: Sequence[str], *, at: datetime) -> int:
    if not playlist_ids:
        return 0
    result = connection.execute(
        update(managed_playlists)
        .where(managed_playlists.c.playlist_id.in_(playlist_ids))
        .values(active=False, updated_at=at)
    )
    return int(result.rowcount or 0)


class UnknownPlaylists(ValueError):
    """The run asked for playlists that are not managed."""


def managed(connection: Connection, only: Sequence[str] = ()) -> list[ManagedPlaylist]:
    """Active managed playlists (all, or ``only`` these, each of which must be managed)."""
    query = select(managed_playlists).where(managed_playlists.c.active.is_(True))
    found = [
        ManagedPlaylist.from_row(row)
        for row in connection.execute(query.order_by(managed_playlists.c.playlist_id)).mappings()
    ]
    if not only:
        return found
    by_id = {playlist.playlist_id: playlist for playlist in found}
    missing = sorted(set(only) - set(by_id))
    if missing:
        raise UnknownPlaylists(
            "playlist_ids: not managed (add them with `manage`): " + ", ".join(missing)
        )
    return [by_id[playlist_id] for playlist_id in dict.fromkeys(only)]


def target_track_ids(
    connection: Connection, playlist: ManagedPlaylist, *, end: datetime
) -> list[str]:
    """The track ids the playlist should hold on the day that ends at ``end``.

    ``most_played`` ranks tracks by plays in the ``window_days`` whole UTC days before ``end``
    (an ``end`` inside a day counts from that day's 00:00 UTC, so every run of one day ranks
    the same plays), ties broken by track id, so the same data always gives the same order.
    """
    if playlist.rule == "track_list":
        return list(dict.fromkeys(playlist.track_ids))
    if playlist.rule != "most_played":
        raise ValueError(f"playlist {playlist.playlist_id}: unknown rule {playlist.rule!r}")
    end = day_start_utc(end)
    plays = func.count().label("plays")
    query = (
        select(listening_events.c.track_id, plays)
        .where(
            listening_events.c.played_at >= end - timedelta(days=playlist.window_days),
            listening_events.c.played_at < end,
        )
        .group_by(listening_events.c.track_id)
        .order_by(plays.desc(), listening_events.c.track_id)
        .limit(playlist.size)
    )
    return list(connection.execute(query).scalars())


def record_plan(
    connection: Connection,
    result: SyncResult,
    *,
    target_size: int,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> None:
    """Log the sync before its first write, so a crash midway still says what was being changed.

    A later attempt of the same run keeps this row's diff: by then the playlist may already be
    equal to its target, and its own plan would say nothing changed.
    """
    if _existing(connection, result.playlist_id, run_id) is not None:
        return
    upsert(
        connection,
        playlist_syncs,
        [
            _row(
                result,
                "planned",
                target_size=target_size,
                quarantined=0,
                run_id=run_id,
                trace_id=trace_id,
                at=at,
            )
        ],
        key=("playlist_id", "run_id"),
    )


def record_sync(
    connection: Connection,
    result: SyncResult,
    *,
    target_size: int,
    quarantined: int,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> str:
    """Log the sync's outcome; returns its status (``applied`` or ``unchanged``).

    One row per playlist and run: an earlier attempt's row (planned, or applied before a later
    step failed) keeps the state before the run and its diff; write calls add up.
    """
    row = _row(
        result,
        "applied",
        target_size=target_size,
        quarantined=quarantined,
        run_id=run_id,
        trace_id=trace_id,
        at=at,
    )
    existing = _existing(connection, result.playlist_id, run_id)
    if existing is not None:
        row["snapshot_before"] = existing["snapshot_before"]
        row["write_calls"] += existing["write_calls"]
        if existing["added"] or existing["removed"] or existing["moved"]:
            for key in ("strategy", "added", "removed", "moved"):
                row[key] = existing[key]
    if not (row["added"] or row["removed"] or row["moved"]):
        row["status"] = "unchanged"
    upsert(connection, playlist_syncs, [row], key=("playlist_id", "run_id"))
    return str(row["status"])


def _existing(connection: Connection, playlist_id: str, run_id: str) -> Any:
    query = select(playlist_syncs).where(
        playlist_syncs.c.playlist_id == playlist_id, playlist_syncs.c.run_id == run_id
    )
    return connection.execute(query).mappings().first()


def _row(
    result: SyncResult,
    status: str,
    *,
    target_size: int,
    quarantined: int,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "playlist_id": result.playlist_id,
        "run_id": run_id,
        "trace_id": trace_id,
        "status": status,
        "strategy": result.strategy,
        "snapshot_before": result.snapshot_before,
        "snapshot_after": result.snapshot_after if status != "planned" else None,
        "target_size": target_size,
        "added": list(result.added),
        "removed": list(result.removed),
        "moved": result.moved,
        "write_calls": result.write_calls if status != "planned" else 0,
        "quarantined": quarantined,
        "synced_at": at,
    }
