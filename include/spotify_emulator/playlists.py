"""Playlists as mutable server state, with Spotify's ``snapshot_id`` versioning.

Every change (items added, removed, replaced or reordered, details edited) makes a new version
with a new ``snapshot_id``. Old snapshot ids stay valid: a removal by position names the version
the client saw, as in the real API; an id the playlist never had is refused.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from spotify_emulator.catalog import Catalog, PlaylistSeed
from spotify_emulator.errors import SpotifyError
from spotify_emulator.paging import page_of
from spotify_emulator.render import JSON, Renderer, iso_s

MAX_ITEMS_PER_REQUEST = 100


@dataclass(frozen=True)
class Entry:
    """One occurrence of a track in a playlist; ``uid`` tells duplicates apart."""

    uid: int
    track_id: str
    added_at_ms: int
    added_by: str


@dataclass
class PlaylistState:
    id: str
    owner_id: str
    name: str
    description: str | None
    public: bool
    collaborative: bool
    followers: int
    entries: list[Entry] = field(default_factory=list)
    version: int = 0
    snapshots: dict[str, tuple[int, ...]] = field(default_factory=dict)
    snapshot_id: str = ""

    def commit(self) -> str:
        """Record the current content as a new version and return its snapshot id."""
        self.version += 1
        uids = tuple(entry.uid for entry in self.entries)
        digest = hashlib.sha1(
            f"{self.id}:{self.version}:{uids}:{self.name}:{self.description}:{self.public}".encode(),
            usedforsecurity=False,
        ).hexdigest()
        # Real snapshot ids are base64 of "<version>,<40 hex digits>".
        self.snapshot_id = base64.b64encode(f"{self.version},{digest}".encode()).decode()
        self.snapshots[self.snapshot_id] = uids
        return self.snapshot_id

    def can_edit(self, user_id: str | None) -> bool:
        return user_id is not None and (user_id == self.owner_id or self.collaborative)


class PlaylistStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.playlists: dict[str, PlaylistState] = {}
        self._uids = itertools.count(1)
        for seed in catalog.playlists.values():
            self.playlists[seed.id] = self._from_seed(seed)

    def _from_seed(self, seed: PlaylistSeed) -> PlaylistState:
        state = PlaylistState(
            id=seed.id,
            owner_id=seed.owner_id,
            name=seed.name,
            description=seed.description,
            public=seed.public,
            collaborative=seed.collaborative,
            followers=seed.followers,
        )
        step = 3_600_000
        state.entries = [
            Entry(next(self._uids), track_id, seed.created_at_ms + index * step, seed.owner_id)
            for index, track_id in enumerate(seed.track_ids)
        ]
        state.commit()
        return state

    def get(self, playlist_id: str) -> PlaylistState:
        found = self.playlists.get(playlist_id)
        if found is None:
            raise SpotifyError(404, "Resource not found")
        return found

    def owned_by(self, user_id: str) -> list[PlaylistState]:
        return [p for p in self.playlists.values() if p.owner_id == user_id]

    def create(
        self,
        playlist_id: str,
        owner_id: str,
        *,
        name: str,
        description: str | None,
        public: bool,
        collaborative: bool,
    ) -> PlaylistState:
        state = PlaylistState(
            id=playlist_id,
            owner_id=owner_id,
            name=name,
            description=description,
            public=public,
            collaborative=collaborative,
            followers=0,
        )
        state.commit()
        self.playlists[playlist_id] = state
        return state

    # -- item edits ------------------------------------------------------------------------
    def add(
        self, state: PlaylistState, track_ids: list[str], position: int | None, user: str, now: int
    ) -> str:
        if position is None:
            position = len(state.entries)
        if not 0 <= position <= len(state.entries):
            raise SpotifyError(400, f"Index out of bounds: position {position}")
        new = [Entry(next(self._uids), track_id, now, user) for track_id in track_ids]
        state.entries[position:position] = new
        return state.commit()

    def replace(self, state: PlaylistState, track_ids: list[str], user: str, now: int) -> str:
        state.entries = [Entry(next(self._uids), track_id, now, user) for track_id in track_ids]
        return state.commit()

    def reorder(
        self,
        state: PlaylistState,
        range_start: int,
        insert_before: int,
        range_length: int,
        snapshot_id: str | None,
    ) -> str:
        self._check_snapshot(state, snapshot_id)
        size = len(state.entries)
        if not 0 <= range_start < size:
            raise SpotifyError(400, f"Invalid range_start: {range_start} (playlist has {size})")
        if range_length < 1 or range_start + range_length > size:
            raise SpotifyError(400, f"Invalid range_length: {range_length}")
        if not 0 <= insert_before <= size:
            raise SpotifyError(400, f"Invalid insert_before: {insert_before}")
        moved = state.entries[range_start : range_start + range_length]
        rest = state.entries[:range_start] + state.entries[range_start + range_length :]
        # insert_before counts positions in the list before the move.
        target = insert_before if insert_before <= range_start else insert_before - range_length
        if range_start <= insert_before <= range_start + range_length:
            target = range_start  # moving a block into itself changes nothing
        state.entries = rest[:target] + moved + rest[target:]
        return state.commit()

    def remove(
        self,
        state: PlaylistState,
        removals: list[tuple[str, list[int] | None]],
        snapshot_id: str | None,
    ) -> str:
        """Remove every occurrence of each track, or only at ``positions`` in the named version."""
        version = self._check_snapshot(state, snapshot_id)
        by_uid = {entry.uid: entry for entry in state.entries}
        doomed: set[int] = set()
        for track_id, positions in removals:
            if positions is None:
                doomed.update(e.uid for e in state.entries if e.track_id == track_id)
                continue
            for position in positions:
                uid = version[position] if 0 <= position < len(version) else None
                entry = by_uid.get(uid) if uid is not None else None
                if entry is None or entry.track_id != track_id:
                    raise SpotifyError(
                        400, f"Could not remove tracks: no {track_id} at position {position}"
                    )
                doomed.add(entry.uid)
        state.entries = [entry for entry in state.entries if entry.uid not in doomed]
        return state.commit()

    def _check_snapshot(self, state: PlaylistState, snapshot_id: str | None) -> tuple[int, ...]:
        if snapshot_id is None:
            return tuple(entry.uid for entry in state.entries)
        version = state.snapshots.get(snapshot_id)
        if version is None:
            raise SpotifyError(400, "Invalid snapshot id")
        return version

    # -- rendering -------------------------------------------------------------------------
    def item(self, renderer: Renderer, entry: Entry) -> JSON:
        track = renderer.track(renderer.catalog.tracks[entry.track_id])
        obj: JSON = {
            "added_at": iso_s(entry.added_at_ms),
            "added_by": renderer.playlist_user(entry.added_by),
            "is_local": False,
            "item": track,
        }
        # The development tier only has the new name; extended keeps the deprecated one too.
        if not renderer.development:
            obj["track"] = track
        return obj

    def items_page(
        self, renderer: Renderer, state: PlaylistState, *, href: str, offset: int, limit: int
    ) -> JSON:
        return page_of(
            state.entries,
            lambda entry: self.item(renderer, entry),
            href=href,
            offset=offset,
            limit=limit,
        )

    def images(self, renderer: Renderer, state: PlaylistState) -> list[JSON]:
        if not state.entries:
            return []
        album = renderer.catalog.albums[renderer.catalog.tracks[state.entries[0].track_id].album_id]
        return [
            {"url": image.url, "height": image.height, "width": image.width}
            for image in album.images[:1]
        ]

    def simplified(self, renderer: Renderer, state: PlaylistState) -> JSON:
        api = renderer.api
        obj: JSON = {
            "collaborative": state.collaborative,
            "description": state.description or "",
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{state.id}"},
            "href": f"{api}/playlists/{state.id}",
            "id": state.id,
            "images": self.images(renderer, state),
            "name": state.name,
            "owner": renderer.playlist_owner(state.owner_id),
            "public": state.public,
            "snapshot_id": state.snapshot_id,
            "items": {"href": f"{api}/playlists/{state.id}/items", "total": len(state.entries)},
            "type": "playlist",
            "uri": f"spotify:playlist:{state.id}",
        }
        if not renderer.development:
            obj["tracks"] = {
                "href": f"{api}/playlists/{state.id}/tracks",
                "total": len(state.entries),
            }
        return obj

    def full(self, renderer: Renderer, state: PlaylistState, *, with_items: bool) -> JSON:
        obj = self.simplified(renderer, state)
        # The full object reports a missing description as null (captured create response).
        obj["description"] = state.description
        obj["followers"] = {"href": None, "total": state.followers}
        obj.pop("items")
        obj.pop("tracks", None)
        if with_items:
            href = f"{renderer.api}/playlists/{state.id}/items"
            obj["items"] = self.items_page(renderer, state, href=href, offset=0, limit=100)
            if not renderer.development:
                obj["tracks"] = self.items_page(
                    renderer,
                    state,
                    href=f"{renderer.api}/playlists/{state.id}/tracks",
                    offset=0,
                    limit=100,
                )
        return obj


def parse_removals(payload: Any, key_names: tuple[str, ...]) -> list[tuple[str, list[int] | None]]:
    """``{"items": [{"uri": ..., "positions": [..]}]}`` → [(uri, positions or None)]."""
    if not isinstance(payload, dict):
        raise SpotifyError(400, "Missing items: expected a JSON object with an items array")
    key = next((name for name in key_names if name in payload), None)
    raw = payload.get(key) if key else None
    if not isinstance(raw, list) or not raw:
        raise SpotifyError(400, f"Missing {key_names[0]}: a non-empty array is required")
    if len(raw) > MAX_ITEMS_PER_REQUEST:
        raise SpotifyError(
            400, f"Too many {key}: you can remove at most {MAX_ITEMS_PER_REQUEST} per request"
        )
    removals: list[tuple[str, list[int] | None]] = []
    for element in raw:
        if not isinstance(element, dict) or not isinstance(element.get("uri"), str):
            raise SpotifyError(400, f"Invalid {key}: each element needs a uri")
        positions = element.get("positions")
        if positions is not None and (
            not isinstance(positions, list) or not all(isinstance(p, int) for p in positions)
        ):
            raise SpotifyError(400, "Invalid positions: expected an array of integers")
        removals.append((element["uri"], positions))
    return removals
