"""Calls the jobs make, over any spotipy-like client: tier-aware batching and paging.

The extended tier has several-ids endpoints (50 artists or tracks per call); the development
tier removed them, so the same helper falls back to one call per id. Paging follows ``next``
links until the API stops giving one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, TypeVar

from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.spotify.models import Artist, Parsed, SimplifiedAlbum, Tier, parse_objects

# Documented maxima of the several-ids endpoints and of paging endpoints, per tier (the
# development tier caps artist albums and search at 10 per page).
ARTISTS_PER_CALL = 50
TRACKS_PER_CALL = 50
PAGE_LIMIT: dict[Tier, int] = {"extended": 50, "development": 10}

T = TypeVar("T")


class SpotifyClient(Protocol):
    """The subset of ``spotipy.Spotify`` the jobs use (a fake in a test needs only these)."""

    def artist(self, artist_id: str) -> Any: ...
    def artists(self, artists: list[str]) -> Any: ...
    def artist_albums(
        self,
        artist_id: str,
        album_type: str | None = None,
        include_groups: str | None = None,
        country: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Any: ...
    def next(self, result: Any) -> Any: ...
    def current_user(self) -> Any: ...
    def current_user_recently_played(
        self, limit: int = 50, after: int | None = None, before: int | None = None
    ) -> Any: ...


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def fetch_artists(
    client: SpotifyClient, artist_ids: Sequence[str], *, tier: Tier, attempts: int = 3
) -> Parsed[Artist]:
    """Artists by id: ``ceil(n / 50)`` calls on the extended tier, ``n`` on the development tier.

    An unknown id (``null`` in a batch, 404 alone) is quarantined with the id. An object that
    fails validation is quarantined as received and fetched again on its own (a damaged answer
    is usually transient), up to ``attempts`` readings in all; only then is the artist left out.
    """
    source = "spotify:artist"
    received: list[tuple[str, Any]] = []
    if tier == "extended":
        for chunk in chunked(artist_ids, ARTISTS_PER_CALL):
            received.extend(zip(chunk, client.artists(chunk)["artists"], strict=True))
    else:
        received = [
            (artist_id, single_or_none(client.artist, artist_id)) for artist_id in artist_ids
        ]

    result: Parsed[Artist] = Parsed()
    for attempt in range(1, attempts + 1):
        damaged: list[str] = []
        for artist_id, payload in received:
            if payload is None:
                result.quarantined.append(
                    QuarantinedItem(
                        source, {"requested_id": artist_id}, "unknown artist id", field="id"
                    )
                )
                continue
            parsed = parse_objects(Artist, [payload], source=source)
            if parsed.valid and parsed.valid[0].id == artist_id:
                result.valid.extend(parsed.valid)
                continue
            result.quarantined.extend(parsed.quarantined)
            if not parsed.quarantined:  # valid, but not the artist asked for
                result.quarantined.append(
                    QuarantinedItem(
                        source, payload, f"answered another id than {artist_id}", field="id"
                    )
                )
            damaged.append(artist_id)
        if attempt < attempts and damaged:
            received = [
                (artist_id, single_or_none(client.artist, artist_id)) for artist_id in damaged
            ]
        else:
            break
    order = {artist_id: index for index, artist_id in enumerate(artist_ids)}
    result.valid.sort(key=lambda artist: order[artist.id])
    return result


def single_or_none(call: Any, object_id: str) -> Any:
    """One object by id, or ``None`` when Spotify does not know the id (404)."""
    try:
        return call(object_id)
    except Exception as error:
        if getattr(error, "http_status", None) == 404:
            return None
        raise


class TrackClient(Protocol):
    def tracks(self, tracks: list[str]) -> Any: ...
    def track(self, track_id: str) -> Any: ...


def track_payloads(client: TrackClient, track_ids: Sequence[str], *, tier: Tier) -> dict[str, Any]:
    """Each track's payload by id (``None`` where Spotify does not know the id).

    ``ceil(n / 50)`` several-ids calls on the extended tier, one call per id on the development
    tier; an answer for another id than the one asked counts as unknown.
    """
    answers: dict[str, Any] = {}
    if tier == "extended":
        for chunk in chunked(list(track_ids), TRACKS_PER_CALL):
            answers.update(zip(chunk, client.tracks(chunk)["tracks"], strict=True))
    else:
        answers = {track_id: single_or_none(client.track, track_id) for track_id in track_ids}
    return {
        track_id: answer if isinstance(answer, dict) and answer.get("id") == track_id else None
        for track_id, answer in answers.items()
    }


class DamagedPage(ValueError):
    """A paging object without its ``items`` list: the listing cannot be trusted to be whole."""


class Pager(Protocol):
    def next(self, result: Any) -> Any: ...


def iterate_pages(client: Pager, first_page: Any) -> Iterator[Any]:
    """Every item of a paging object, following ``next`` links."""
    page = first_page
    while page:
        if not isinstance(page.get("items"), list):
            raise DamagedPage(f"paging object without items: {str(page)[:200]}")
        yield from page["items"]
        page = client.next(page) if page.get("next") else None


def fetch_artist_albums(
    client: SpotifyClient,
    artist_id: str,
    *,
    tier: Tier,
    include_groups: str = "album,single",
    attempts: int = 3,
) -> Parsed[SimplifiedAlbum]:
    """All of an artist's releases in the given groups, in the largest pages the tier allows.

    A listing is whole when every page had its items, every item validated and the count equals
    the paging ``total``; otherwise it is read again (damaged items are quarantined each time),
    up to ``attempts`` times. :class:`IncompleteListing` says that no reading was whole: a partial
    listing stored as history would report the missing releases as new the next day.
    """
    source = "spotify:artist_albums"
    quarantined: list[QuarantinedItem] = []
    parsed: Parsed[SimplifiedAlbum] = Parsed()
    whole = False
    for _ in range(attempts):
        first = client.artist_albums(
            artist_id, include_groups=include_groups, limit=PAGE_LIMIT[tier]
        )
        try:
            items = list(iterate_pages(client, first))
        except DamagedPage as error:
            quarantined.append(QuarantinedItem(source, first, str(error), field="items"))
            continue
        parsed = parse_objects(SimplifiedAlbum, items, source=source)
        quarantined.extend(parsed.quarantined)
        total = first.get("total")
        whole = not parsed.quarantined and (total is None or total == len(parsed.valid))
        if whole:
            break
    if not whole:
        raise IncompleteListing(artist_id, attempts, quarantined)
    return Parsed(parsed.valid, quarantined)


class IncompleteListing(Exception):  # noqa: N818 - named for what happened
    """No reading of an artist's releases was whole; what was damaged is kept for the quarantine."""

    def __init__(self, artist_id: str, attempts: int, quarantined: list[QuarantinedItem]) -> None:
        self.artist_id = artist_id
        self.quarantined = quarantined
        super().__init__(
            f"releases of artist {artist_id}: no complete listing in {attempts} readings"
        )
