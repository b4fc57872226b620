"""Catalogues from JSON fixture files in the Web API's own object shapes, and back.

A fixture is a JSON object with any of ``artists``, ``albums``, ``tracks`` (lists of Spotify
objects), and optionally ``users`` (PrivateUserObject), ``plays`` (``{user_id: [PlayHistory]}``)
and ``playlists``; or a bare list of objects told apart by their ``type``. Loading is lenient so a
captured real response can be used as is: artists known only from an album or track become
artists without followers or genres, and tracks listed inside an album's ``tracks.items`` join
that album. Without users, seeded users, playlists and histories are generated over the loaded
catalogue. One extension key is read: ``x_play_weight`` (a track's relative play probability;
default derived from popularity).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from spotify_emulator.catalog import (
    Album,
    AlbumType,
    Artist,
    Catalog,
    Context,
    Image,
    Play,
    PlaylistSeed,
    ReleasePrecision,
    Track,
    User,
)
from spotify_emulator.config import CatalogSpec
from spotify_emulator.generator import MARKETS, add_users
from spotify_emulator.render import Renderer, iso_ms, iso_s

Obj = dict[str, Any]
FIXTURE_API = "https://api.spotify.com/v1"


class InvalidFixture(ValueError):
    """A fixture that cannot become a catalogue; the message names the object."""


def load_fixture(source: str | Path | Obj | list[Obj], spec: CatalogSpec | None = None) -> Catalog:
    """Build a catalogue from a fixture file path or its parsed JSON."""
    if isinstance(source, str | Path):
        try:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidFixture(f"cannot read fixture {source}: {error}") from None
    else:
        document = source
    groups = _grouped(document)
    artists: dict[str, Artist] = {}
    albums: dict[str, Album] = {}
    tracks: dict[str, Track] = {}
    album_objects: dict[str, Obj] = {}
    for obj in groups["artist"]:
        artist = _artist(obj)
        artists[artist.id] = artist
    # Full track objects first, then simplified ones found inside albums fill the gaps.
    track_objects: dict[str, Obj] = {}
    for obj in groups["album"]:
        album_id = _id(obj, "album")
        album_objects[album_id] = obj
        for item in (obj.get("tracks") or {}).get("items") or []:
            track_objects.setdefault(_id(item, "track"), {**item, "album": {"id": album_id}})
    for obj in groups["track"]:
        track_objects[_id(obj, "track")] = obj
    for obj in [*album_objects.values(), *track_objects.values()]:
        for simple in obj.get("artists") or []:
            artist_id = _id(simple, "artist")
            if artist_id not in artists:
                artists[artist_id] = Artist(artist_id, str(simple.get("name", "")), (), 0, 0)
    members: dict[str, list[tuple[int, int, str]]] = {album_id: [] for album_id in album_objects}
    for track_id, obj in track_objects.items():
        album_ref = obj.get("album") or {}
        ref_id = album_ref.get("id")
        if not isinstance(ref_id, str):
            raise InvalidFixture(f"track {track_id} has no album.id")
        if ref_id not in album_objects:
            album_objects[ref_id] = album_ref  # a simplified album inside a track
            members[ref_id] = []
        members[ref_id].append(
            (int(obj.get("disc_number", 1)), int(obj.get("track_number", 0)), track_id)
        )
    for album_id, obj in album_objects.items():
        order = [track_id for _, _, track_id in sorted(members[album_id])]
        albums[album_id] = _album(obj, album_id, tuple(order))
    for track_id, obj in track_objects.items():
        tracks[track_id] = _track(obj, track_id)
    catalog_markets = tuple(sorted({m for album in albums.values() for m in album.markets}))
    base = Catalog(
        artists=artists, albums=albums, tracks=tracks, markets=catalog_markets or MARKETS
    )
    if not groups["user"]:
        return add_users(base, spec or CatalogSpec())
    users = {user.id: user for user in (_user(obj) for obj in groups["user"])}
    plays = (
        {
            user_id: tuple(_play(entry, user_id) for entry in history)
            for user_id, history in (document.get("plays") or {}).items()
        }
        if isinstance(document, dict)
        else {}
    )
    playlists = {seed.id: seed for seed in (_playlist(obj) for obj in groups["playlist"])}
    try:
        return Catalog(
            artists=artists,
            albums=albums,
            tracks=tracks,
            users=users,
            plays=plays,
            playlists=playlists,
            markets=base.markets,
        )
    except ValueError as error:
        raise InvalidFixture(str(error)) from None


def dump_fixture(catalog: Catalog) -> Obj:
    """The catalogue as a fixture document that :func:`load_fixture` reads back unchanged."""
    render = Renderer(catalog, FIXTURE_API, "extended")
    everything = frozenset({"user-read-private", "user-read-email"})
    tracks = []
    for track in catalog.tracks.values():
        obj = render.track(track)
        obj["x_play_weight"] = track.weight
        tracks.append(obj)
    albums = []
    for album in catalog.albums.values():
        obj = render.album(album)
        obj.pop("tracks")  # the tracks list holds them in full
        albums.append(obj)
    return {
        "artists": [render.artist(artist) for artist in catalog.artists.values()],
        "albums": albums,
        "tracks": tracks,
        "users": [render.private_user(user, everything) for user in catalog.users.values()],
        "plays": {
            user_id: [
                {
                    "track": {"id": play.track_id},
                    "played_at": iso_ms(play.played_at_ms),
                    "context": render.context(play.context, user_id) if play.context else None,
                }
                for play in history
            ]
            for user_id, history in catalog.plays.items()
        },
        "playlists": [
            {
                "type": "playlist",
                "id": seed.id,
                "name": seed.name,
                "description": seed.description,
                "public": seed.public,
                "collaborative": seed.collaborative,
                "owner": {"id": seed.owner_id},
                "followers": {"href": None, "total": seed.followers},
                "items": [
                    {"added_at": iso_s(seed.created_at_ms), "item": {"id": track_id}}
                    for track_id in seed.track_ids
                ],
            }
            for seed in catalog.playlists.values()
        ],
    }


def _grouped(document: Any) -> dict[str, list[Obj]]:
    groups: dict[str, list[Obj]] = {
        kind: [] for kind in ("artist", "album", "track", "user", "playlist")
    }
    if isinstance(document, list):
        for obj in document:
            kind = obj.get("type") if isinstance(obj, dict) else None
            if kind not in groups:
                raise InvalidFixture(f"object without a known type: {str(obj)[:80]}")
            groups[kind].append(obj)
        return groups
    if not isinstance(document, dict):
        raise InvalidFixture("a fixture is a JSON object or a list of objects")
    for kind in groups:
        entries = document.get(f"{kind}s") or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidFixture(f"{kind}s must be a list of objects")
        groups[kind] = cast(list[Obj], entries)
    return groups


def _id(obj: Obj, kind: str) -> str:
    value = obj.get("id")
    if not isinstance(value, str) or not value:
        raise InvalidFixture(f"{kind} without an id: {str(obj)[:80]}")
    return value


def _images(raw: Iterable[Any] | None) -> tuple[Image, ...]:
    return tuple(
        Image(str(image["url"]), image.get("height"), image.get("width"))
        for image in raw or ()
        if isinstance(image, dict) and "url" in image
    )


def _artist(obj: Obj) -> Artist:
    return Artist(
        id=_id(obj, "artist"),
        name=str(obj.get("name", "")),
        genres=tuple(obj.get("genres") or ()),
        popularity=int(obj.get("popularity") or 0),
        followers=int((obj.get("followers") or {}).get("total") or 0),
        images=_images(obj.get("images")),
    )


def _album(obj: Obj, album_id: str, track_ids: tuple[str, ...]) -> Album:
    release_date = obj.get("release_date") or "1970"
    if not isinstance(release_date, str):
        raise InvalidFixture(f"album {album_id}: release_date must be a string")
    precision = obj.get("release_date_precision") or {4: "year", 7: "month"}.get(
        len(release_date), "day"
    )
    album_type = str(obj.get("album_type") or "album").lower()
    if album_type not in ("album", "single", "compilation"):
        raise InvalidFixture(f"album {album_id}: unknown album_type {album_type!r}")
    return Album(
        id=album_id,
        name=str(obj.get("name", "")),
        album_type=cast(AlbumType, album_type),
        artist_ids=tuple(_id(a, "artist") for a in obj.get("artists") or ()),
        release_date=release_date,
        release_date_precision=cast(ReleasePrecision, precision),
        popularity=int(obj.get("popularity") or 0),
        label=str(obj.get("label") or ""),
        markets=tuple(obj.get("available_markets") or ()),
        upc=str((obj.get("external_ids") or {}).get("upc") or ""),
        track_ids=track_ids,
        images=_images(obj.get("images")),
        copyrights=tuple(
            (str(c.get("text", "")), str(c.get("type", ""))) for c in obj.get("copyrights") or ()
        ),
    )


def _track(obj: Obj, track_id: str) -> Track:
    popularity = int(obj.get("popularity") or 0)
    return Track(
        id=track_id,
        name=str(obj.get("name", "")),
        album_id=str((obj.get("album") or {})["id"]),
        artist_ids=tuple(_id(a, "artist") for a in obj.get("artists") or ()),
        disc_number=int(obj.get("disc_number", 1)),
        track_number=int(obj.get("track_number", 0)),
        duration_ms=int(obj.get("duration_ms", 0)),
        explicit=bool(obj.get("explicit", False)),
        popularity=popularity,
        isrc=str((obj.get("external_ids") or {}).get("isrc") or ""),
        weight=float(obj.get("x_play_weight") or 1.07**popularity),
    )


def _user(obj: Obj) -> User:
    return User(
        id=_id(obj, "user"),
        display_name=str(obj.get("display_name") or ""),
        country=str(obj.get("country") or "US"),
        email=str(obj.get("email") or ""),
        product=str(obj.get("product") or "premium"),
        followers=int((obj.get("followers") or {}).get("total") or 0),
        images=_images(obj.get("images")),
    )


def _epoch_ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _play(entry: Obj, user_id: str) -> Play:
    track = entry.get("track") or {}
    context_obj = entry.get("context") or None
    context = None
    if context_obj:
        parts = str(context_obj.get("uri", "")).split(":")
        if parts[-1] == "collection":
            context = Context("collection", user_id)
        elif len(parts) == 3:
            context = Context(parts[1], parts[2])
    return Play(_id(track, "track"), _epoch_ms(str(entry["played_at"])), context)


def _playlist(obj: Obj) -> PlaylistSeed:
    items = obj.get("items") or []
    if isinstance(items, dict):  # a paging object, as in a full PlaylistObject
        items = items.get("items") or []
    track_ids = tuple(
        _id(entry.get("item") or entry.get("track") or {}, "track") for entry in items
    )
    added = [entry.get("added_at") for entry in items if entry.get("added_at")]
    return PlaylistSeed(
        id=_id(obj, "playlist"),
        name=str(obj.get("name", "")),
        owner_id=_id(obj.get("owner") or {}, "playlist owner"),
        description=obj.get("description"),
        public=bool(obj.get("public", True)),
        collaborative=bool(obj.get("collaborative", False)),
        track_ids=track_ids,
        followers=int((obj.get("followers") or {}).get("total") or 0),
        created_at_ms=_epoch_ms(str(added[0])) if added else 0,
    )
