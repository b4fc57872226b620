"""Artist monitoring: snapshots of watched artists, and the changes between two snapshots.

A snapshot is what the API said about an artist on a date: profile fields and the ids of its
releases. Changes are found against the latest earlier snapshot, so a re-run for the same date
finds the same events. A field the tier withholds is ``None`` and never produces an event:
missing is not zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.spotify.api import (
    IncompleteListing,
    SpotifyClient,
    fetch_artist_albums,
    fetch_artists,
)
from spotify_agent.spotify.models import Artist, SimplifiedAlbum, Tier


@dataclass(frozen=True)
class ArtistSnapshot:
    artist_id: str
    snapshot_date: date
    name: str
    genres: tuple[str, ...]
    popularity: int | None
    followers: int | None
    release_ids: tuple[str, ...]

    @classmethod
    def of(cls, artist: Artist, releases: Iterable[SimplifiedAlbum], on: date) -> ArtistSnapshot:
        return cls(
            artist_id=artist.id,
            snapshot_date=on,
            name=artist.name,
            genres=tuple(sorted(artist.genres)),
            popularity=artist.popularity,
            followers=artist.follower_count,
            release_ids=tuple(sorted({release.id for release in releases})),
        )

    def as_row(self) -> dict[str, Any]:
        return {
            "artist_id": self.artist_id,
            "snapshot_date": self.snapshot_date,
            "name": self.name,
            "genres": list(self.genres),
            "popularity": self.popularity,
            "followers": self.followers,
            "release_ids": list(self.release_ids),
        }

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ArtistSnapshot:
        return cls(
            artist_id=row["artist_id"],
            snapshot_date=row["snapshot_date"],
            name=row["name"],
            genres=tuple(row["genres"] or ()),
            popularity=row["popularity"],
            followers=row["followers"],
            release_ids=tuple(row["release_ids"] or ()),
        )


@dataclass(frozen=True)
class ArtistEvent:
    artist_id: str
    snapshot_date: date
    event_type: (
        str  # new_release | followers_jump | popularity_jump | genres_changed | name_changed
    )
    subject: str  # the release id, or the field that changed
    before: str | None
    after: str | None
    delta: float | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "artist_id": self.artist_id,
            "snapshot_date": self.snapshot_date,
            "event_type": self.event_type,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
        }


def detect_changes(
    previous: ArtistSnapshot | None,
    current: ArtistSnapshot,
    *,
    follower_jump_pct: float,
    popularity_jump: int,
) -> list[ArtistEvent]:
    """Events between two snapshots of one artist; none for the first snapshot (a baseline)."""
    if previous is None:
        return []

    def event(
        kind: str, subject: str, before: Any, after: Any, delta: float | None = None
    ) -> ArtistEvent:
        return ArtistEvent(
            current.artist_id,
            current.snapshot_date,
            kind,
            subject,
            None if before is None else str(before),
            None if after is None else str(after),
            delta,
        )

    events = [
        event("new_release", release_id, None, release_id)
        for release_id in sorted(set(current.release_ids) - set(previous.release_ids))
    ]
    if previous.followers is not None and current.followers is not None and previous.followers > 0:
        change_pct = 100.0 * (current.followers - previous.followers) / previous.followers
        if abs(change_pct) >= follower_jump_pct:
            events.append(
                event(
                    "followers_jump",
                    "followers",
                    previous.followers,
                    current.followers,
                    round(change_pct, 2),
                )
            )
    if previous.popularity is not None and current.popularity is not None:
        change = current.popularity - previous.popularity
        if abs(change) >= popularity_jump:
            events.append(
                event(
                    "popularity_jump", "popularity", previous.popularity, current.popularity, change
                )
            )
    if previous.genres != current.genres:
        events.append(
            event("genres_changed", "genres", ",".join(previous.genres), ",".join(current.genres))
        )
    if previous.name != current.name:
        events.append(event("name_changed", "name", previous.name, current.name))
    return events


def batches(artist_ids: Sequence[str], size: int) -> list[list[str]]:
    """Watched ids in sorted, fixed batches: the same list gives the same mapped tasks."""
    ordered = sorted(set(artist_ids))
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


@dataclass
class SnapshotBatch:
    """What one batch of artists looked like on a day, and what could not be read."""

    snapshots: list[ArtistSnapshot]
    releases: dict[str, list[SimplifiedAlbum]]
    quarantined: list[QuarantinedItem]
    # Artists whose release listing never came back whole: not snapshotted, worth a retry.
    incomplete: list[str] = field(default_factory=list)


def snapshot_artists(
    client: SpotifyClient, artist_ids: Sequence[str], *, tier: Tier, on: date
) -> SnapshotBatch:
    """Profiles (batched where the tier allows) and every release of each artist."""
    artists = fetch_artists(client, artist_ids, tier=tier)
    quarantined = list(artists.quarantined)
    snapshots, releases, incomplete = [], {}, []
    for artist in artists.valid:
        try:
            albums = fetch_artist_albums(client, artist.id, tier=tier)
        except IncompleteListing as error:
            # No snapshot rather than a wrong one: the artist is snapshotted by the next run.
            quarantined.extend(error.quarantined)
            quarantined.append(
                QuarantinedItem("spotify:artist_albums", {"artist_id": artist.id}, str(error))
            )
            incomplete.append(artist.id)
            continue
        quarantined.extend(albums.quarantined)
        releases[artist.id] = albums.valid
        snapshots.append(ArtistSnapshot.of(artist, albums.valid, on))
    return SnapshotBatch(snapshots, releases, quarantined, incomplete)
