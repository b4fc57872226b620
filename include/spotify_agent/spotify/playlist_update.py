"""The ``playlist_update`` job, in its two steps: apply the run's ``manage`` /
``unmanage_playlist_ids`` and choose the managed playlists to sync; then, per playlist, make it
equal to its target, log the sync and audit it, keeping every bad item the attempt saw.

Idempotent: the diff between the live playlist and its target is applied, so a playlist already
equal to its target gets zero write calls; the sync log upserts on ``(playlist_id, run_id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from spotify_agent.core.audit import Attempt
from spotify_agent.core.numbers import counts_text
from spotify_agent.core.quarantine import QuarantinedItem, quarantine_items
from spotify_agent.spotify.confs import PlaylistUpdateConf
from spotify_agent.spotify.errors import orchestration_errors, write_outcome_unknown
from spotify_agent.spotify.models import Tier
from spotify_agent.spotify.playlist_store import (
    ManagedPlaylist,
    UnknownPlaylists,
    manage,
    managed,
    record_plan,
    record_sync,
    target_track_ids,
    unmanage,
)
from spotify_agent.spotify.playlists import (
    PlaylistClient,
    SyncRefused,
    SyncResult,
    UnmanageablePlaylist,
    known_track_ids,
    shrink_guard,
    sync_playlist,
    track_uri,
)
from spotify_agent.spotify.resilience import Resilient
from spotify_agent.spotify.stats import CallStats

# A most_played target that would drop more than half the playlist's tracks and is under half its
# configured size is not synced: it means missing listening data, not a change of taste.
MOST_PLAYED_MAX_SHRINK_PCT = 50.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlaylistsToSync:
    """The managed playlists to sync (their XCom form), or why the run cannot sync."""

    playlists: list[dict[str, Any]]
    # Playlists the run named that are not managed: nothing was changed, the run fails.
    refused: str | None = None

    def summary_line(self) -> str:
        return f"{len(self.playlists)} managed playlists to sync"


@dataclass(frozen=True)
class PlaylistSync:
    """What one playlist's sync changed and cost, or why it was refused (nothing written)."""

    playlist_id: str
    status: str  # applied, unchanged or refused
    strategy: str
    counts: dict[str, int]
    refused: str | None = None

    def summary_line(self) -> str:
        """``playlist <id>: applied (diff): 40 tracks added, 3 tracks removed, 2 write calls``."""
        changes = {k: v for k, v in self.counts.items()
                   if k not in ("rows_written", "playlists", "playlists_changed")}  # fmt: skip
        said = f"playlist {self.playlist_id}: {self.status}"
        said += f" ({self.strategy})" if self.strategy else ""
        return f"{said}: {counts_text(changes, always=0) or 'nothing to change'}"


def plan_playlists(
    engine: Engine, conf: PlaylistUpdateConf, attempt: Attempt, *, now: datetime | None = None
) -> PlaylistsToSync:
    """Manage and unmanage what the run asks, in one transaction, and return the playlists to
    sync: ``conf.playlist_ids``, or every managed one. Naming one that is not managed changes
    nothing and comes back as ``refused``."""
    at = now or datetime.now(UTC)
    try:
        with engine.begin() as connection:
            if conf.manage:
                manage(connection, conf.manage, run_id=attempt.run_id, at=at)
                managed_count = {"playlists": len(conf.manage)}
                attempt.record(connection, "playlists_managed", counts=managed_count, at=at)
            if conf.unmanage_playlist_ids:
                count = unmanage(connection, conf.unmanage_playlist_ids, at=at)
                unmanaged = {"playlists": count}
                attempt.record(connection, "playlists_unmanaged", counts=unmanaged, at=at)
            playlists = managed(connection, conf.playlist_ids)
    except UnknownPlaylists as error:
        return PlaylistsToSync([], refused=str(error))
    return PlaylistsToSync([playlist.as_dict() for playlist in playlists])


def sync_managed_playlist(
    engine: Engine,
    client: PlaylistClient,
    playlist: ManagedPlaylist | Mapping[str, Any],
    attempt: Attempt,
    *,
    tier: Tier,
    end: datetime,
    calls: CallStats | None = None,
    now: Callable[[], datetime] = _utcnow,
) -> PlaylistSync:
    """Make ``playlist`` (or its XCom form) equal to its target as of ``end`` and log the sync.
    A target that looks wrong, or a playlist the user cannot edit, is audited as refused and
    comes back as ``refused`` with nothing written; Spotify failures are raised as
    ``RetryLater`` / ``PermanentFailure`` naming the playlist's connection. Bad items are kept
    whatever the outcome. ``calls`` counts the client's requests for the audit row."""
    playlist = _managed(playlist)
    with engine.connect() as connection:
        ids = target_track_ids(connection, playlist, end=end)
    sync = _Sync(engine, Resilient(client), attempt, [track_uri(i) for i in ids], tier, now)
    try:
        with orchestration_errors(playlist.spotify_conn_id):
            result = sync.run(playlist)
    except (SyncRefused, UnmanageablePlaylist) as refused:
        with engine.begin() as connection:
            sync.keep_quarantined(connection)
            counts = {"target_tracks": len(sync.target) - len(sync.unknown)}
            attempt.record(
                connection,
                "playlist_sync_refused",
                outcome="refused",
                counts=counts,
                entity_type="playlist",
                entity_key=playlist.playlist_id,
                detail=str(refused),
                at=now(),
            )
        # No retry: the data will not change within minutes; the failure is the alert.
        return PlaylistSync(playlist.playlist_id, "refused", "", counts, refused=str(refused))
    except Exception:
        # Keep what was damaged even when the attempt fails (Airflow retries it).
        with engine.begin() as connection:
            sync.keep_quarantined(connection)
        raise
    return sync.record(playlist, result, calls)


def _managed(playlist: ManagedPlaylist | Mapping[str, Any]) -> ManagedPlaylist:
    if isinstance(playlist, ManagedPlaylist):
        return playlist
    return ManagedPlaylist(**{**playlist, "track_ids": tuple(playlist.get("track_ids", ()))})


class _Sync:
    """One attempt's sync of one playlist: the target, the bad items it saw, its records."""

    def __init__(
        self,
        engine: Engine,
        client: Resilient,
        attempt: Attempt,
        target: list[str],
        tier: Tier,
        now: Callable[[], datetime],
    ) -> None:
        self.engine, self.client, self.attempt = engine, client, attempt
        self.target, self.tier, self.now = target, tier, now
        self.unknown: list[QuarantinedItem] = []
        self.damaged: list[QuarantinedItem] = []

    def run(self, playlist: ManagedPlaylist) -> SyncResult:
        return sync_playlist(
            self.client,
            playlist.playlist_id,
            self.target,
            is_uncertain=write_outcome_unknown,
            vet=self.vet,
            on_plan=self.on_plan,
            damaged=self.damaged,
            # A data-driven target that collapses means missing data, not a new taste.
            guard=shrink_guard(
                MOST_PLAYED_MAX_SHRINK_PCT if playlist.rule == "most_played" else None,
                expected=playlist.size,
            ),
        )

    def vet(self, uris: Sequence[str]) -> list[str]:
        """The URIs Spotify does not know, set aside (they would refuse a whole add call)."""
        ids = [uri.rsplit(":", 1)[-1] for uri in uris]
        _, rejected = known_track_ids(self.client, ids, tier=self.tier)
        self.unknown.extend(rejected)
        return [track_uri(item.payload["track_id"]) for item in rejected]

    def on_plan(self, result: SyncResult) -> None:
        """Log the diff before the first write, so a crash midway says what was changing."""
        with self.engine.begin() as connection:
            record_plan(
                connection,
                result,
                target_size=len(self.target),
                run_id=self.attempt.run_id,
                trace_id=self.attempt.trace_id,
                at=self.now(),
            )

    def keep_quarantined(self, connection: Connection) -> int:
        """Every bad item this attempt saw, whatever the attempt's outcome."""
        items = [*self.unknown, *self.damaged, *self.client.quarantined]
        return quarantine_items(connection, items, run=self.attempt.run, at=self.now())

    def record(
        self, playlist: ManagedPlaylist, result: SyncResult, calls: CallStats | None
    ) -> PlaylistSync:
        """Log the sync's outcome and audit it, with the bad items, in one transaction."""
        at = self.now()
        with self.engine.begin() as connection:
            quarantined = self.keep_quarantined(connection)
            status = record_sync(
                connection,
                result,
                target_size=len(self.target) - len(self.unknown),
                quarantined=quarantined,
                run_id=self.attempt.run_id,
                trace_id=self.attempt.trace_id,
                at=at,
            )
            counts = {
                "rows_written": 1,  # the playlist_syncs row
                "playlists": 1,
                "playlists_changed": int(status == "applied"),
                "tracks_added": len(result.added),
                "tracks_removed": len(result.removed),
                "tracks_moved": result.moved,
                "write_calls": result.write_calls,
                "quarantined": quarantined,
                **(calls.summary() if calls is not None else {}),
            }
            self.attempt.record(
                connection,
                "playlist_changed" if status == "applied" else "playlist_unchanged",
                counts=counts,
                entity_type="playlist",
                entity_key=playlist.playlist_id,
                at=at,
            )
        return PlaylistSync(playlist.playlist_id, status, result.strategy, counts)
