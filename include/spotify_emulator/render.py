"""Catalogue records rendered as the Web API's JSON objects, tier by tier.

Shapes follow the captured real responses in ``shared/data/spotify-web-api`` and the OpenAPI
spec: ``href`` links point at the emulator itself (so a client can follow them), ``external_urls``
at open.spotify.com as in the real service. In the development tier the fields Spotify withholds
are left out entirely, never set to zero or null.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spotify_emulator.catalog import (
    Album,
    AlbumGroup,
    Artist,
    Catalog,
    Context,
    Image,
    Play,
    Track,
    User,
)
from spotify_emulator.config import Tier

JSON = dict[str, Any]
OPEN = "https://open.spotify.com"
# Fields the development tier withholds (SPOTIFY_API.md; user fields: those the spec deprecates).
DEV_WITHHELD: dict[str, frozenset[str]] = {
    "artist": frozenset({"followers", "popularity"}),
    "album": frozenset({"popularity", "available_markets"}),
    "track": frozenset({"popularity", "available_markets"}),
    "user": frozenset({"country", "email", "product", "explicit_content", "followers"}),
}


@dataclass(frozen=True)
class Renderer:
    """Renders for one request: ``api`` is the absolute base of the Web API (``.../v1``)."""

    catalog: Catalog
    api: str
    tier: Tier = "extended"

    @property
    def development(self) -> bool:
        return self.tier == "development"

    def _withhold(self, kind: str, obj: JSON) -> JSON:
        if self.development:
            for key in DEV_WITHHELD[kind]:
                obj.pop(key, None)
        return obj

    # -- artists ---------------------------------------------------------------------------
    def simplified_artist(self, artist_id: str) -> JSON:
        artist = self.catalog.artists[artist_id]
        return {
            "external_urls": {"spotify": f"{OPEN}/artist/{artist.id}"},
            "href": f"{self.api}/artists/{artist.id}",
            "id": artist.id,
            "name": artist.name,
            "type": "artist",
            "uri": f"spotify:artist:{artist.id}",
        }

    def artist(self, artist: Artist) -> JSON:
        obj = self.simplified_artist(artist.id)
        obj.update(
            {
                "followers": {"href": None, "total": artist.followers},
                "genres": list(artist.genres),
                "images": images(artist.images),
                "popularity": artist.popularity,
            }
        )
        return self._withhold("artist", obj)

    # -- albums ----------------------------------------------------------------------------
    def simplified_album(self, album: Album, group: AlbumGroup | None = None) -> JSON:
        obj: JSON = {
            "album_type": album.album_type,
            "total_tracks": len(album.track_ids),
            "available_markets": list(album.markets),
            "external_urls": {"spotify": f"{OPEN}/album/{album.id}"},
            "href": f"{self.api}/albums/{album.id}",
            "id": album.id,
            "images": images(album.images),
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": album.release_date_precision,
            "type": "album",
            "uri": f"spotify:album:{album.id}",
            "artists": [self.simplified_artist(artist_id) for artist_id in album.artist_ids],
        }
        if group is not None:
            obj["album_group"] = group
        return self._withhold("album", obj)

    def album(self, album: Album) -> JSON:
        obj = self.simplified_album(album)
        limit = 50
        items = [self.simplified_track(self.catalog.tracks[t]) for t in album.track_ids[:limit]]
        href = f"{self.api}/albums/{album.id}/tracks"
        total = len(album.track_ids)
        obj.update(
            {
                "tracks": {
                    "href": f"{href}?offset=0&limit={limit}",
                    "items": items,
                    "limit": limit,
                    "next": f"{href}?offset={limit}&limit={limit}" if total > limit else None,
                    "offset": 0,
                    "previous": None,
                    "total": total,
                },
                "copyrights": [{"text": text, "type": kind} for text, kind in album.copyrights],
                "external_ids": {"upc": album.upc},
                "genres": [],
                "label": album.label,
                "popularity": album.popularity,
            }
        )
        return self._withhold("album", obj)

    # -- tracks ----------------------------------------------------------------------------
    def simplified_track(self, track: Track) -> JSON:
        album = self.catalog.albums[track.album_id]
        obj: JSON = {
            "artists": [self.simplified_artist(artist_id) for artist_id in track.artist_ids],
            "available_markets": list(album.markets),
            "disc_number": track.disc_number,
            "duration_ms": track.duration_ms,
            "explicit": track.explicit,
            "external_urls": {"spotify": f"{OPEN}/track/{track.id}"},
            "href": f"{self.api}/tracks/{track.id}",
            "id": track.id,
            "name": track.name,
            # Spotify stopped serving preview clips to new apps in November 2024.
            "preview_url": None,
            "track_number": track.track_number,
            "type": "track",
            "uri": f"spotify:track:{track.id}",
            "is_local": False,
        }
        return self._withhold("track", obj)

    def track(self, track: Track) -> JSON:
        obj = self.simplified_track(track)
        obj["album"] = self.simplified_album(self.catalog.albums[track.album_id])
        obj["external_ids"] = {"isrc": track.isrc}
        obj["popularity"] = track.popularity
        return self._withhold("track", obj)

    # -- users -----------------------------------------------------------------------------
    def playlist_user(self, user_id: str) -> JSON:
        return {
            "external_urls": {"spotify": f"{OPEN}/user/{user_id}"},
            "href": f"{self.api}/users/{user_id}",
            "id": user_id,
            "type": "user",
            "uri": f"spotify:user:{user_id}",
        }

    def playlist_owner(self, user_id: str) -> JSON:
        obj = self.playlist_user(user_id)
        user = self.catalog.users.get(user_id)
        obj["display_name"] = user.display_name if user else None
        return obj

    def public_user(self, user: User) -> JSON:
        obj = self.playlist_owner(user.id)
        obj["followers"] = {"href": None, "total": user.followers}
        obj["images"] = images(user.images)
        return self._withhold("user", obj)

    def private_user(self, user: User, scope: frozenset[str]) -> JSON:
        obj = self.public_user(user)
        if "user-read-private" in scope:
            obj["country"] = user.country
            obj["product"] = user.product
            obj["explicit_content"] = {"filter_enabled": False, "filter_locked": False}
        if "user-read-email" in scope:
            obj["email"] = user.email
        return self._withhold("user", obj)

    # -- plays -----------------------------------------------------------------------------
    def context(self, context: Context, user_id: str) -> JSON:
        if context.type == "collection":
            return {
                "type": "collection",
                "href": f"{self.api}/me/tracks",
                "external_urls": {"spotify": f"{OPEN}/collection/tracks"},
                "uri": f"spotify:user:{user_id}:collection",
            }
        return {
            "type": context.type,
            "href": f"{self.api}/{context.type}s/{context.id}",
            "external_urls": {"spotify": f"{OPEN}/{context.type}/{context.id}"},
            "uri": f"spotify:{context.type}:{context.id}",
        }

    def play(self, play: Play, user_id: str) -> JSON:
        obj: JSON = {
            "track": self.track(self.catalog.tracks[play.track_id]),
            "played_at": iso_ms(play.played_at_ms),
            "context": None,
        }
        if play.context is not None:
            obj["context"] = self.context(play.context, user_id)
        return obj


def images(found: tuple[Image, ...]) -> list[JSON]:
    return [{"url": image.url, "height": image.height, "width": image.width} for image in found]


def iso_ms(epoch_ms: int) -> str:
    """``2016-12-13T20:44:04.589Z``: the played_at format of the real API."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def iso_s(epoch_ms: int) -> str:
    """``2021-09-09T06:43:33Z``: the added_at format of playlist items."""
    return datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
