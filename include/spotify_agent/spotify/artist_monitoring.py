"""The ``artist_monitoring`` job, in its two steps: add the run's artists to the watch list and
split it into batches; then, per batch, snapshot the artists' profiles and releases, store them
with the changes since each artist's previous snapshot, set aside what could not be read and
audit the batch, in one transaction.

Idempotent: an artist's snapshot of the day is replaced, the day's events are found against the
latest earlier snapshot and replaced as a whole, and a quarantined payload is kept once, so a
re-run writes the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from spotify_agent.core.audit import Attempt, record_write
from spotify_agent.core.numbers import counts_text
from spotify_agent.spotify.api import SpotifyClient
from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent.spotify.errors import orchestration_errors
from spotify_agent.spotify.models import Tier
from spotify_agent.spotify.monitoring import SnapshotBatch, batches, snapshot_artists
from spotify_agent.spotify.monitoring_store import record_batch, watch, watched_ids
from spotify_agent.spotify.resilience import Resilient
from spotify_agent.spotify.stats import CallStats

# 50 artists = one several-ids call on the extended tier; a mapped task per batch fails alone.
BATCH_SIZE = 50


@dataclass(frozen=True)
class ArtistBatches:
    """The watch list after the run's additions, in the batches to snapshot."""

    watched: int
    batches: list[list[str]]

    def summary_line(self) -> str:
        return f"{self.watched} watched artists in {len(self.batches)} batches"


@dataclass(frozen=True)
class ArtistBatchSnapshot:
    """What one batch's snapshot stored, and the artists left for a retry."""

    artist_ids: tuple[str, ...]
    counts: dict[str, int]
    # Artists whose release listing never came back whole: not snapshotted, worth a retry.
    incomplete: tuple[str, ...]

    def summary_line(self) -> str:
        return f"batch of {len(self.artist_ids)} artists: {counts_text(self.counts)}"

    def incomplete_line(self) -> str:
        return f"{len(self.incomplete)} artists had no complete release listing: " + ", ".join(
            self.incomplete[:10]
        )


def plan_artist_batches(
    engine: Engine, conf: ArtistMonitoringConf, attempt: Attempt, *, now: datetime | None = None
) -> ArtistBatches:
    """Watch the run's ``add_artist_ids`` from now on; returns every watched artist in batches."""
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        if conf.add_artist_ids:
            watch(connection, conf.add_artist_ids, run_id=attempt.run_id, at=at)
            added = {"artists": len(conf.add_artist_ids)}
            attempt.record(connection, "artists_watched", counts=added, at=at)
        ids = watched_ids(connection)
    return ArtistBatches(len(ids), batches(ids, BATCH_SIZE))


def snapshot_artist_batch(
    engine: Engine,
    client: SpotifyClient,
    artist_ids: Sequence[str],
    conf: ArtistMonitoringConf,
    attempt: Attempt,
    *,
    tier: Tier,
    day: date,
    spotify_conn_id: str = "spotify_default",
    calls: CallStats | None = None,
    now: datetime | None = None,
) -> ArtistBatchSnapshot:
    """Snapshot ``artist_ids`` as of ``day`` and store the changes; Spotify failures are raised
    as ``RetryLater`` / ``PermanentFailure`` naming ``spotify_conn_id``, before anything is
    written. ``calls`` counts the client's requests for the audit row."""
    resilient = Resilient(client)
    with orchestration_errors(spotify_conn_id):
        batch = snapshot_artists(resilient, artist_ids, tier=tier, on=day)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        written, events = record_batch(
            connection,
            batch,
            day=day,
            follower_jump_pct=conf.follower_jump_pct,
            popularity_jump=conf.popularity_jump,
            run_id=attempt.run_id,
            trace_id=attempt.trace_id,
            at=at,
        )
        counts = record_write(
            connection,
            attempt,
            "artist_snapshots_written",
            counts=_counts(batch, written, events, calls),
            quarantined=[*batch.quarantined, *resilient.quarantined],
            entity_type="artist_batch",
            entity_key=f"{artist_ids[0]}..{artist_ids[-1]}" if artist_ids else "",
            at=at,
        )
    return ArtistBatchSnapshot(tuple(artist_ids), counts, tuple(batch.incomplete))


def _counts(
    batch: SnapshotBatch, written: int, events: int, calls: CallStats | None
) -> dict[str, int]:
    return {
        "rows_written": written + events,
        "snapshots": written,
        "events": events,
        "quarantined": 0,  # record_write adds the items it sets aside
        "releases": sum(len(releases) for releases in batch.releases.values()),
        **(calls.summary() if calls is not None else {}),
    }
