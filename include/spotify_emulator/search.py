"""Search over the catalogue: free-text words plus Spotify's field filters.

Supported filters: ``artist:``, ``album:``, ``track:``, ``genre:``, ``year:`` (a year or a range
``1990-1999``), ``isrc:`` and ``upc:``; values may be quoted. Every free word must occur in the
item's name or its artists' names (albums and tracks) or genres (artists). Results are ranked by
popularity, the strongest part of Spotify's own ranking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spotify_emulator.catalog import Catalog

SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
_TOKEN = re.compile(r'(\w+):"([^"]*)"|(\w+):(\S+)|"([^"]*)"|(\S+)')
_FILTERS = {"artist", "album", "track", "genre", "year", "isrc", "upc", "tag"}


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)


def parse_query(text: str) -> Query:
    query = Query()
    for match in _TOKEN.finditer(text):
        key = match.group(1) or match.group(3)
        value = match.group(2) if match.group(1) else match.group(4)
        if key and key.lower() in _FILTERS and value is not None:
            query.filters[key.lower()] = value.lower()
            continue
        phrase = match.group(5) if match.group(5) is not None else match.group(0)
        query.words += [word for word in phrase.lower().split() if word]
    return query


class SearchIndex:
    """Lower-cased text of every artist, album and track, built once per server."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        names = {artist.id: artist.name.lower() for artist in catalog.artists.values()}
        self._artist_text = {
            artist.id: f"{artist.name.lower()} {' '.join(artist.genres)}"
            for artist in catalog.artists.values()
        }
        self._album_artists = {
            album.id: " ".join(names[a] for a in album.artist_ids)
            for album in catalog.albums.values()
        }
        self._track_artists = {
            track.id: " ".join(names[a] for a in track.artist_ids)
            for track in catalog.tracks.values()
        }
        self._artist_years: dict[str, set[int]] = {
            artist_id: set() for artist_id in catalog.artists
        }
        for album in catalog.albums.values():
            for artist_id in album.artist_ids:
                self._artist_years[artist_id].add(album.release_year)
        self._artists = sorted(
            catalog.artists.values(), key=lambda a: (-a.popularity, a.name, a.id)
        )
        self._albums = sorted(catalog.albums.values(), key=lambda a: (-a.popularity, a.name, a.id))
        self._tracks = sorted(catalog.tracks.values(), key=lambda t: (-t.popularity, t.name, t.id))

    def artists(self, query: Query) -> list[str]:
        found = []
        f = query.filters
        for artist in self._artists:
            artist_id = artist.id
            text = self._artist_text[artist_id]
            if "artist" in f and f["artist"] not in artist.name.lower():
                continue
            if "genre" in f and not any(f["genre"] in genre for genre in artist.genres):
                continue
            if "year" in f and not any(
                _year_ok(f["year"], y) for y in self._artist_years[artist_id]
            ):
                continue
            if any(k in f for k in ("album", "track", "isrc", "upc")):
                continue
            if all(word in text for word in query.words):
                found.append(artist_id)
        return found

    def albums(self, query: Query) -> list[str]:
        found = []
        f = query.filters
        for album in self._albums:
            artists = self._album_artists[album.id]
            if "album" in f and f["album"] not in album.name.lower():
                continue
            if "artist" in f and f["artist"] not in artists:
                continue
            if "year" in f and not _year_ok(f["year"], album.release_year):
                continue
            if "upc" in f and f["upc"] != album.upc:
                continue
            if any(k in f for k in ("track", "isrc", "genre")):
                continue
            text = f"{album.name.lower()} {artists}"
            if all(word in text for word in query.words):
                found.append(album.id)
        return found

    def tracks(self, query: Query) -> list[str]:
        found = []
        f = query.filters
        catalog = self.catalog
        for track in self._tracks:
            album = catalog.albums[track.album_id]
            artists = self._track_artists[track.id]
            name = track.name.lower()
            if "track" in f and f["track"] not in name:
                continue
            if "artist" in f and f["artist"] not in artists:
                continue
            if "album" in f and f["album"] not in album.name.lower():
                continue
            if "year" in f and not _year_ok(f["year"], album.release_year):
                continue
            if "isrc" in f and f["isrc"] != track.isrc.lower():
                continue
            if "genre" in f and not any(
                f["genre"] in genre
                for artist_id in track.artist_ids
                for genre in catalog.artists[artist_id].genres
            ):
                continue
            if "upc" in f:
                continue
            text = f"{name} {artists}"
            if all(word in text for word in query.words):
                found.append(track.id)
        return found


def _year_ok(spec: str, year: int) -> bool:
    low, _, high = spec.partition("-")
    try:
        return int(low) <= year <= int(high or low)
    except ValueError:
        return False
