"""The emulator's data: artists, albums, tracks, users, their plays and their playlists.

Plain immutable records plus the indexes the endpoints need. Rendering into Spotify's JSON shapes
lives in :mod:`.render`; building a catalogue in :mod:`.generator` (seeded) or
:mod:`.fixtures` (from JSON files).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import Literal

AlbumType = Literal["album", "single", "compilation"]
AlbumGroup = Literal["album", "single", "compilation", "appears_on"]
ALBUM_GROUPS: tuple[AlbumGroup, ...] = ("album", "single", "compilation", "appears_on")
ReleasePrecision = Literal["year", "month", "day"]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def is_spotify_id(value: str) -> bool:
    return SPOTIFY_ID.match(value) is not None


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    height: int | None
    width: int | None


@dataclass(frozen=True, slots=True)
class Artist:
    id: str
    name: str
    genres: tuple[str, ...]
    popularity: int
    followers: int
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Album:
    id: str
    name: str
    album_type: AlbumType
    artist_ids: tuple[str, ...]
    release_date: str
    release_date_precision: ReleasePrecision
    popularity: int
    label: str
    markets: tuple[str, ...]
    upc: str
    track_ids: tuple[str, ...]
    images: tuple[Image, ...] = ()
    copyrights: tuple[tuple[str, str], ...] = ()  # (text, type)

    @property
    def release_year(self) -> int:
        return int(self.release_date[:4])


@dataclass(frozen=True, slots=True)
class Track:
    id: str
    name: str
    album_id: str
    artist_ids: tuple[str, ...]
    disc_number: int
    track_number: int
    duration_ms: int
    explicit: bool
    popularity: int
    isrc: str
    # Relative play probability (any positive scale); drives the listening histories.
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class User:
    id: str
    display_name: str
    country: str
    email: str
    product: str
    followers: int
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """Where a play came from: ``type`` is album, artist, playlist or collection."""

    type: str
    id: str


@dataclass(frozen=True, slots=True)
class Play:
    track_id: str
    played_at_ms: int
    context: Context | None = None


@dataclass(frozen=True, slots=True)
class PlaylistSeed:
    """A playlist as the catalogue starts with it; the server keeps the mutable state."""

    id: str
    name: str
    owner_id: str
    description: str | None
    public: bool
    collaborative: bool
    track_ids: tuple[str, ...]
    followers: int = 0
    created_at_ms: int = 0


@dataclass
class Catalog:
    """Everything the emulator serves. Dict order is the generation order (stable)."""

    artists: dict[str, Artist]
    albums: dict[str, Album]
    tracks: dict[str, Track]
    users: dict[str, User] = field(default_factory=dict)
    # Per user, newest first, with strictly decreasing ``played_at_ms``.
    plays: dict[str, tuple[Play, ...]] = field(default_factory=dict)
    playlists: dict[str, PlaylistSeed] = field(default_factory=dict)
    markets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._check_references()
        self.plays = {
            user_id: tuple(sorted(history, key=lambda play: -play.played_at_ms))
            for user_id, history in self.plays.items()
        }
        self._artist_albums: dict[str, list[tuple[str, AlbumGroup]]] = {}
        self._build_indexes()

    def _check_references(self) -> None:
        problems: list[str] = []
        for album in self.albums.values():
            problems += _missing("album", album.id, "artist", album.artist_ids, self.artists)
            problems += _missing("album", album.id, "track", album.track_ids, self.tracks)
        for track in self.tracks.values():
            problems += _missing("track", track.id, "album", (track.album_id,), self.albums)
            problems += _missing("track", track.id, "artist", track.artist_ids, self.artists)
        for user_id, history in self.plays.items():
            problems += _missing("plays of", user_id, "user", (user_id,), self.users)
            problems += _missing(
                "plays of", user_id, "track", {play.track_id for play in history}, self.tracks
            )
        for playlist in self.playlists.values():
            problems += _missing("playlist", playlist.id, "owner", (playlist.owner_id,), self.users)
            problems += _missing("playlist", playlist.id, "track", playlist.track_ids, self.tracks)
        if problems:
            raise ValueError("inconsistent catalogue: " + "; ".join(problems[:10]))

    def _build_indexes(self) -> None:
        own: dict[str, list[str]] = {artist_id: [] for artist_id in self.artists}
        appears: dict[str, list[str]] = {artist_id: [] for artist_id in self.artists}
        for album in self.albums.values():
            for artist_id in album.artist_ids:
                own[artist_id].append(album.id)
            featured = {
                artist_id
                for track_id in album.track_ids
                for artist_id in self.tracks[track_id].artist_ids
            }
            for artist_id in sorted(featured - set(album.artist_ids)):
                appears[artist_id].append(album.id)
        # Spotify lists an artist's discography group by group, newest release first.
        for artist_id in self.artists:
            entries: list[tuple[str, AlbumGroup]] = [
                (album_id, self.albums[album_id].album_type) for album_id in own[artist_id]
            ]
            entries += [(album_id, "appears_on") for album_id in appears[artist_id]]
            entries.sort(
                key=lambda entry: (
                    ALBUM_GROUPS.index(entry[1]),
                    _negated_date(self.albums[entry[0]].release_date),
                    entry[0],
                )
            )
            self._artist_albums[artist_id] = entries
        tracks_by_artist: dict[str, list[Track]] = {artist_id: [] for artist_id in self.artists}
        for track in self.tracks.values():
            for artist_id in track.artist_ids:
                tracks_by_artist[artist_id].append(track)
        self._top_tracks = {
            artist_id: tuple(
                track.id for track in sorted(tracks, key=lambda t: (-t.popularity, t.id))[:10]
            )
            for artist_id, tracks in tracks_by_artist.items()
        }
        self._genres = tuple(
            sorted({genre for artist in self.artists.values() for genre in artist.genres})
        )

    def artist_albums(
        self, artist_id: str, groups: Iterable[AlbumGroup] | None = None
    ) -> list[tuple[str, AlbumGroup]]:
        """(album id, album_group) of an artist's discography, filtered by ``groups``."""
        entries = self._artist_albums[artist_id]
        if groups is None:
            return list(entries)
        wanted = set(groups)
        return [entry for entry in entries if entry[1] in wanted]

    def top_tracks(self, artist_id: str) -> tuple[str, ...]:
        return self._top_tracks[artist_id]

    @property
    def genres(self) -> tuple[str, ...]:
        return self._genres

    def artist_ids(self) -> list[str]:
        return list(self.artists)

    def summary(self) -> dict[str, int]:
        return {
            "artists": len(self.artists),
            "albums": len(self.albums),
            "tracks": len(self.tracks),
            "users": len(self.users),
            "plays": sum(len(history) for history in self.plays.values()),
            "playlists": len(self.playlists),
        }


def _missing(
    kind: str, owner: str, what: str, ids: Iterable[str], known: Container[str]
) -> list[str]:
    return [f"{kind} {owner} refers to unknown {what} {ref}" for ref in ids if ref not in known]


def _negated_date(release_date: str) -> tuple[int, ...]:
    parts = [int(part) for part in release_date.split("-")]
    parts += [0] * (3 - len(parts))
    return tuple(-part for part in parts)
