"""The Web API under ``/v1``: catalogue, search, users, recently-played and playlists.

Every handler authenticates through :data:`~.helpers.Token` (which also applies the rate limit)
before anything else, so an unauthenticated call gets 401 and a removed endpoint 403 only with
a valid token, as in the real service.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response

from spotify_emulator.catalog import ALBUM_GROUPS, AlbumGroup, is_spotify_id
from spotify_emulator.errors import INVALID_ID, NOT_FOUND, SpotifyError
from spotify_emulator.helpers import (
    Token,
    api_base,
    emulator,
    ids_param,
    int_param,
    is_development,
    json_body,
    lookup,
    optional_int,
    renderer,
    require_extended,
    require_user,
    respond,
)
from spotify_emulator.paging import page_of, with_query
from spotify_emulator.playlists import (
    MAX_ITEMS_PER_REQUEST,
    PlaylistState,
    parse_removals,
)
from spotify_emulator.render import Renderer
from spotify_emulator.search import SEARCH_TYPES, Query, parse_query
from spotify_emulator.state import AccessToken, EmulatorState

router = APIRouter(prefix="/v1")
_TRACK_URI = re.compile(r"^spotify:(track|episode|local):(.+)$")
T = TypeVar("T")


def _limits(
    request: Request, *, default: int, maximum: int, max_offset: int = 100_000
) -> tuple[int, int]:
    limit = int_param(request, "limit", default, 1, maximum)
    offset = int_param(request, "offset", 0, 0, max_offset)
    return offset, limit


def _several(
    request: Request, table: dict[str, T], maximum: int, render: Callable[[T], Any]
) -> list[Any]:
    """The objects of the ``ids`` parameter, rendered; ``None`` for an id the table lacks."""
    found = [table.get(object_id) for object_id in ids_param(request, maximum)]
    return [render(obj) if obj else None for obj in found]


# -- artists ----------------------------------------------------------------------------------
@router.get("/artists/{artist_id}")
async def get_artist(artist_id: str, request: Request, token: Token) -> Response:
    artist = lookup(emulator(request).catalog.artists, artist_id)
    return respond(renderer(request).artist(artist))


@router.get("/artists")
async def get_several_artists(request: Request, token: Token) -> Response:
    require_extended(request)
    artists = _several(request, emulator(request).catalog.artists, 50, renderer(request).artist)
    return respond({"artists": artists})


@router.get("/artists/{artist_id}/albums")
async def get_artist_albums(artist_id: str, request: Request, token: Token) -> Response:
    state = emulator(request)
    lookup(state.catalog.artists, artist_id)
    # Spotify's 2026 reference: default 5, at most 10 per page for development-mode apps.
    default, maximum = (5, 10) if is_development(request) else (20, 50)
    offset, limit = _limits(request, default=default, maximum=maximum)
    groups = _include_groups(request.query_params.get("include_groups"))
    entries = state.catalog.artist_albums(artist_id, groups)
    render = renderer(request)
    page = page_of(
        entries,
        lambda entry: render.simplified_album(state.catalog.albums[entry[0]], entry[1]),
        href=str(request.url),
        offset=offset,
        limit=limit,
    )
    return respond(page)


def _include_groups(raw: str | None) -> list[AlbumGroup] | None:
    if not raw:
        return None
    groups: list[AlbumGroup] = []
    for part in raw.split(","):
        part = part.strip()
        if part not in ALBUM_GROUPS:
            raise SpotifyError(400, f"Invalid include_groups value: {part!r}")
        groups.append(part)
    return groups


@router.get("/artists/{artist_id}/top-tracks")
async def get_artist_top_tracks(artist_id: str, request: Request, token: Token) -> Response:
    require_extended(request)
    state, render = emulator(request), renderer(request)
    lookup(state.catalog.artists, artist_id)
    tracks = [render.track(state.catalog.tracks[t]) for t in state.catalog.top_tracks(artist_id)]
    return respond({"tracks": tracks})


# -- albums and tracks ------------------------------------------------------------------------
@router.get("/albums/{album_id}")
async def get_album(album_id: str, request: Request, token: Token) -> Response:
    album = lookup(emulator(request).catalog.albums, album_id)
    return respond(renderer(request).album(album))


@router.get("/albums")
async def get_several_albums(request: Request, token: Token) -> Response:
    require_extended(request)
    albums = _several(request, emulator(request).catalog.albums, 20, renderer(request).album)
    return respond({"albums": albums})


@router.get("/albums/{album_id}/tracks")
async def get_album_tracks(album_id: str, request: Request, token: Token) -> Response:
    state = emulator(request)
    album = lookup(state.catalog.albums, album_id)
    offset, limit = _limits(request, default=20, maximum=50)
    render = renderer(request)
    page = page_of(
        album.track_ids,
        lambda track_id: render.simplified_track(state.catalog.tracks[track_id]),
        href=str(request.url),
        offset=offset,
        limit=limit,
    )
    return respond(page)


@router.get("/tracks/{track_id}")
async def get_track(track_id: str, request: Request, token: Token) -> Response:
    track = lookup(emulator(request).catalog.tracks, track_id)
    return respond(renderer(request).track(track))


@router.get("/tracks")
async def get_several_tracks(request: Request, token: Token) -> Response:
    require_extended(request)
    tracks = _several(request, emulator(request).catalog.tracks, 50, renderer(request).track)
    return respond({"tracks": tracks})


# -- search and browse ------------------------------------------------------------------------
@router.get("/search")
async def search(request: Request, token: Token) -> Response:
    state, render = emulator(request), renderer(request)
    text = request.query_params.get("q", "").strip()
    if not text:
        raise SpotifyError(400, "No search query")
    raw_types = request.query_params.get("type")
    if not raw_types:
        raise SpotifyError(400, "Missing parameter type")
    types = [part.strip() for part in raw_types.split(",") if part.strip()]
    for kind in types:
        if kind not in SEARCH_TYPES:
            raise SpotifyError(400, f"Bad search type field {kind}")
    # Development-mode apps: default 5, at most 10 per type (February 2026).
    default, maximum = (5, 10) if is_development(request) else (20, 50)
    offset, limit = _limits(request, default=default, maximum=maximum, max_offset=1000)
    query = parse_query(text)
    href = str(request.url)
    result: dict[str, Any] = {}
    for kind in types:
        found, show = _found(state, render, query, kind)
        page_href = with_query(href, type=kind)
        result[f"{kind}s"] = page_of(found, show, href=page_href, offset=offset, limit=limit)
    return respond(result)


def _found(
    state: EmulatorState, render: Renderer, query: Query, kind: str
) -> tuple[Sequence[Any], Callable[[Any], Any]]:
    """What a search finds of one ``kind``, best first, and how each is rendered."""
    catalog = state.catalog
    if kind == "artist":
        return state.search.artists(query), lambda i: render.artist(catalog.artists[i])
    if kind == "album":
        return state.search.albums(query), lambda i: render.simplified_album(catalog.albums[i])
    if kind == "track":
        return state.search.tracks(query), lambda i: render.track(catalog.tracks[i])
    if kind == "playlist":
        playlists = [
            p
            for p in state.playlists.playlists.values()
            if p.public and all(word in p.name.lower() for word in query.words)
        ]
        return playlists, lambda p: state.playlists.simplified(render, p)
    return [], lambda entry: entry  # shows, episodes and audiobooks: the emulator has none


@router.get("/browse/new-releases")
async def get_new_releases(request: Request, token: Token) -> Response:
    require_extended(request)
    state, render = emulator(request), renderer(request)
    offset, limit = _limits(request, default=20, maximum=50)
    newest = sorted(
        state.catalog.albums.values(), key=lambda a: (a.release_date, a.id), reverse=True
    )
    page = page_of(
        newest, render.simplified_album, href=str(request.url), offset=offset, limit=limit
    )
    return respond({"albums": page})


def _category(request: Request, genre: str) -> dict[str, Any]:
    slug = re.sub(r"[^a-z0-9]+", "_", genre.lower()).strip("_")
    return {
        "href": f"{api_base(request)}/browse/categories/{slug}",
        "icons": [{"url": f"https://t.scdn.co/images/{slug}.jpg", "height": 274, "width": 274}],
        "id": slug,
        "name": genre.title(),
    }


@router.get("/browse/categories")
async def get_categories(request: Request, token: Token) -> Response:
    require_extended(request)
    genres = emulator(request).catalog.genres
    offset, limit = _limits(request, default=20, maximum=50)
    page = page_of(
        genres,
        lambda genre: _category(request, genre),
        href=str(request.url),
        offset=offset,
        limit=limit,
    )
    return respond({"categories": page})


@router.get("/browse/categories/{category_id}")
async def get_category(category_id: str, request: Request, token: Token) -> Response:
    require_extended(request)
    for genre in emulator(request).catalog.genres:
        category = _category(request, genre)
        if category["id"] == category_id:
            return respond(category)
    raise SpotifyError(404, NOT_FOUND)


@router.get("/markets")
async def get_markets(request: Request, token: Token) -> Response:
    require_extended(request)
    return respond({"markets": list(emulator(request).catalog.markets)})


# -- users --------------------------------------------------------------------------------------
@router.get("/me")
async def get_me(request: Request, token: Token) -> Response:
    user_id = require_user(token)
    user = emulator(request).catalog.users[user_id]
    return respond(renderer(request).private_user(user, token.scope))


@router.get("/users/{user_id}")
async def get_user(user_id: str, request: Request, token: Token) -> Response:
    require_extended(request)
    user = emulator(request).catalog.users.get(user_id)
    if user is None:
        raise SpotifyError(404, NOT_FOUND)
    return respond(renderer(request).public_user(user))


@router.get("/me/playlists")
async def get_my_playlists(request: Request, token: Token) -> Response:
    user_id = require_user(token)
    return _playlist_list(request, user_id, include_private=True)


@router.get("/users/{user_id}/playlists")
async def get_user_playlists(user_id: str, request: Request, token: Token) -> Response:
    require_extended(request)
    if user_id not in emulator(request).catalog.users:
        raise SpotifyError(404, NOT_FOUND)
    return _playlist_list(request, user_id, include_private=token.user_id == user_id)


def _playlist_list(request: Request, user_id: str, *, include_private: bool) -> Response:
    state, render = emulator(request), renderer(request)
    offset, limit = _limits(request, default=20, maximum=50)
    owned = [p for p in state.playlists.owned_by(user_id) if p.public or include_private]
    page = page_of(
        owned,
        lambda playlist: state.playlists.simplified(render, playlist),
        href=str(request.url),
        offset=offset,
        limit=limit,
    )
    return respond(page)


@router.post("/me/playlists")
async def create_my_playlist(request: Request, token: Token) -> Response:
    user_id = require_user(token, "playlist-modify-public", "playlist-modify-private")
    return await _create_playlist(request, user_id)


@router.post("/users/{user_id}/playlists")
async def create_user_playlist(user_id: str, request: Request, token: Token) -> Response:
    require_extended(request)
    own_id = require_user(token, "playlist-modify-public", "playlist-modify-private")
    if own_id != user_id:
        raise SpotifyError(403, "You cannot create a playlist for another user.")
    return await _create_playlist(request, user_id)


async def _create_playlist(request: Request, user_id: str) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise SpotifyError(400, "Missing required field: name")
    description = body.get("description")
    state = emulator(request)
    playlist = state.playlists.create(
        state.new_id(),
        user_id,
        name=body["name"],
        description=description if isinstance(description, str) and description else None,
        public=bool(body.get("public", True)),
        collaborative=bool(body.get("collaborative", False)),
    )
    return respond(state.playlists.full(renderer(request), playlist, with_items=True), 201)


# -- recently played ----------------------------------------------------------------------------
@router.get("/me/player/recently-played")
async def get_recently_played(request: Request, token: Token) -> Response:
    user_id = require_user(token, "user-read-recently-played")
    state = emulator(request)
    limit = int_param(request, "limit", 20, 1, 50)
    after, before = optional_int(request, "after"), optional_int(request, "before")
    if after is not None and before is not None:
        raise SpotifyError(400, "Only one of after or before may be specified")
    now_ms = int(time.time() * 1000)
    visible = [p for p in state.catalog.plays.get(user_id, ()) if p.played_at_ms <= now_ms]
    cap = state.config.recently_played_cap
    if cap is not None:
        visible = visible[:cap]
    # ``visible`` is newest first; a page is too.
    if after is not None:
        newer = [p for p in visible if p.played_at_ms > after]
        page, more = newer[-limit:], len(newer) > limit
    else:
        older = visible if before is None else [p for p in visible if p.played_at_ms < before]
        page, more = older[:limit], len(older) > limit
    base = f"{api_base(request)}/me/player/recently-played"
    cursors = None
    following = None
    if page:
        cursors = {"after": str(page[0].played_at_ms), "before": str(page[-1].played_at_ms)}
        if more and after is not None:
            following = with_query(base, after=cursors["after"], limit=limit)
        elif more:
            following = with_query(base, before=cursors["before"], limit=limit)
    render = renderer(request)
    return respond(
        {
            "items": [render.play(play, user_id) for play in page],
            "next": following,
            "cursors": cursors,
            "limit": limit,
            "href": str(request.url),
        }
    )


# -- playlists ----------------------------------------------------------------------------------
def _playlist(request: Request, playlist_id: str) -> PlaylistState:
    if not is_spotify_id(playlist_id):
        raise SpotifyError(400, INVALID_ID)
    return emulator(request).playlists.get(playlist_id)


def _can_read_items(request: Request, playlist: PlaylistState, token: AccessToken) -> bool:
    # Since February 2026 development-mode apps see items only of playlists the user owns or
    # collaborates on; extended-mode apps read any playlist.
    return not is_development(request) or playlist.can_edit(token.user_id)


def _editable(playlist: PlaylistState, token: AccessToken) -> str:
    scope = "playlist-modify-public" if playlist.public else "playlist-modify-private"
    user_id = require_user(token, scope)
    if not playlist.can_edit(user_id):
        raise SpotifyError(403, "You cannot modify a playlist you don't own.")
    return user_id


@router.get("/playlists/{playlist_id}")
async def get_playlist(playlist_id: str, request: Request, token: Token) -> Response:
    playlist = _playlist(request, playlist_id)
    with_items = _can_read_items(request, playlist, token)
    body = emulator(request).playlists.full(renderer(request), playlist, with_items=with_items)
    return respond(body)


@router.put("/playlists/{playlist_id}")
async def change_playlist_details(playlist_id: str, request: Request, token: Token) -> Response:
    playlist = _playlist(request, playlist_id)
    user_id = _editable(playlist, token)
    if user_id != playlist.owner_id:
        raise SpotifyError(403, "You cannot change details of a playlist you don't own.")
    body = await json_body(request)
    if not isinstance(body, dict):
        raise SpotifyError(400, "Error parsing json")
    for key, kind in (
        ("name", str),
        ("description", str),
        ("public", bool),
        ("collaborative", bool),
    ):
        if key in body and not isinstance(body[key], kind):
            raise SpotifyError(400, f"Invalid {key}")
    if "name" in body:
        playlist.name = body["name"]
    if "description" in body:
        playlist.description = body["description"]
    if "public" in body:
        playlist.public = body["public"]
    if "collaborative" in body:
        playlist.collaborative = body["collaborative"]
    playlist.commit()
    # The real endpoint answers 200 with an empty body.
    return Response(status_code=200)


def _legacy(request: Request, alias: str) -> None:
    """``/playlists/{id}/tracks`` was removed for development-mode apps (403 there)."""
    if alias == "tracks":
        require_extended(request)


@router.get("/playlists/{playlist_id}/items")
@router.get("/playlists/{playlist_id}/tracks")
async def get_playlist_items(playlist_id: str, request: Request, token: Token) -> Response:
    alias = request.url.path.rsplit("/", 1)[-1]
    _legacy(request, alias)
    playlist = _playlist(request, playlist_id)
    if not _can_read_items(request, playlist, token):
        raise SpotifyError(403, "Forbidden")
    # The spec caps /items pages at 50; the legacy /tracks allowed 100.
    offset, limit = _limits(request, default=20, maximum=50 if alias == "items" else 100)
    href = str(request.url)
    page = emulator(request).playlists.items_page(
        renderer(request), playlist, href=href, offset=offset, limit=limit
    )
    return respond(page)


@router.post("/playlists/{playlist_id}/items")
@router.post("/playlists/{playlist_id}/tracks")
async def add_playlist_items(playlist_id: str, request: Request, token: Token) -> Response:
    _legacy(request, request.url.path.rsplit("/", 1)[-1])
    playlist = _playlist(request, playlist_id)
    user_id = _editable(playlist, token)
    body = await json_body(request)
    # spotipy sends a bare JSON array of URIs; the reference documents {"uris": [...]}.
    body_uris = body if isinstance(body, list) else (body or {}).get("uris")
    uris = _uris(request, body_uris)
    if uris is None:
        raise SpotifyError(400, "Missing uris: give them in the body or the query")
    position = optional_int(request, "position")
    if position is None and isinstance(body, dict) and isinstance(body.get("position"), int):
        position = body["position"]
    track_ids = _track_ids(request, uris, verb="add")
    snapshot = emulator(request).playlists.add(
        playlist, track_ids, position, user_id, int(time.time() * 1000)
    )
    return respond({"snapshot_id": snapshot}, 201)


@router.put("/playlists/{playlist_id}/items")
@router.put("/playlists/{playlist_id}/tracks")
async def update_playlist_items(playlist_id: str, request: Request, token: Token) -> Response:
    _legacy(request, request.url.path.rsplit("/", 1)[-1])
    playlist = _playlist(request, playlist_id)
    user_id = _editable(playlist, token)
    body = await json_body(request)
    if body is not None and not isinstance(body, dict):
        raise SpotifyError(400, "Error parsing json: expected an object")
    body = body or {}
    store = emulator(request).playlists
    uris = _uris(request, body.get("uris"))
    if "range_start" in body:
        if uris is not None:
            raise SpotifyError(400, "Replace (uris) and reorder (range_start) are exclusive")
        fields = {}
        for key, default in (("range_start", None), ("insert_before", None), ("range_length", 1)):
            value = body.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpotifyError(400, f"Invalid {key}")
            fields[key] = value
        snapshot_id = body.get("snapshot_id")
        if snapshot_id is not None and not isinstance(snapshot_id, str):
            raise SpotifyError(400, "Invalid snapshot id")
        snapshot = store.reorder(
            playlist,
            fields["range_start"],
            fields["insert_before"],
            fields["range_length"],
            snapshot_id,
        )
    elif uris is not None:
        track_ids = _track_ids(request, uris, verb="set")
        snapshot = store.replace(playlist, track_ids, user_id, int(time.time() * 1000))
    else:
        raise SpotifyError(400, "Missing uris (replace) or range_start (reorder)")
    return respond({"snapshot_id": snapshot})


@router.delete("/playlists/{playlist_id}/items")
@router.delete("/playlists/{playlist_id}/tracks")
async def remove_playlist_items(playlist_id: str, request: Request, token: Token) -> Response:
    _legacy(request, request.url.path.rsplit("/", 1)[-1])
    playlist = _playlist(request, playlist_id)
    _editable(playlist, token)
    body = await json_body(request)
    # February 2026 renamed the body's "tracks" to "items"; only extended still takes "tracks".
    keys = ("items",) if is_development(request) else ("items", "tracks")
    removals = parse_removals(body, keys)
    resolved = [
        (track_id, positions)
        for (uri, positions) in removals
        for track_id in _track_ids(request, [uri], verb="remove", must_exist=False)
    ]
    snapshot_id = body.get("snapshot_id") if isinstance(body, dict) else None
    if snapshot_id is not None and not isinstance(snapshot_id, str):
        raise SpotifyError(400, "Invalid snapshot id")
    snapshot = emulator(request).playlists.remove(playlist, resolved, snapshot_id)
    return respond({"snapshot_id": snapshot})


def _uris(request: Request, from_body: Any) -> list[str] | None:
    """URIs from the ``uris`` query parameter (which wins, as documented) or the body."""
    raw = request.query_params.get("uris")
    if raw is not None:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if from_body is None:
        return None
    if not isinstance(from_body, list) or not all(isinstance(u, str) for u in from_body):
        raise SpotifyError(400, "Invalid uris: expected an array of strings")
    return list(from_body)


def _track_ids(
    request: Request, uris: list[str], *, verb: str, must_exist: bool = True
) -> list[str]:
    if len(uris) > MAX_ITEMS_PER_REQUEST:
        raise SpotifyError(
            400, f"Too many uris: you can {verb} at most {MAX_ITEMS_PER_REQUEST} items per request"
        )
    tracks = emulator(request).catalog.tracks
    ids = []
    for uri in uris:
        match = _TRACK_URI.match(uri)
        if match is None or (match.group(1) != "local" and not is_spotify_id(match.group(2))):
            raise SpotifyError(400, f"Invalid base62 id in uri {uri!r}")
        if match.group(1) != "track" or (must_exist and match.group(2) not in tracks):
            raise SpotifyError(400, "Payload contains a non-existing ID")
        ids.append(match.group(2))
    return ids
