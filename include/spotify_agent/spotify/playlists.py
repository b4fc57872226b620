"""Keeping a playlist equal to a target track list, in the fewest write calls.

:func:`plan_sync` compares the live playlist with its target and returns the writes, chosen
between two strategies by their number of calls (each call carries at most 100 items):

- ``edit``: remove what the target lacks (by position, in the snapshot that was read), move kept
  tracks that are out of order (a range move per block), insert what is missing where it belongs.
  Kept tracks keep their "added" dates, so ties go to this strategy.
- ``replace``: put the first 100 target tracks, append the rest.

:func:`sync_playlist` reads, plans, writes and reads again until the playlist equals its target.
Removals and moves carry a ``snapshot_id``, so Spotify applies them to the version they were
planned from. A write whose outcome is unknown (a 5xx, a timeout, a damaged answer, a stale plan)
is never repeated blindly: the next round reads the playlist and plans from what is really there,
so a write that was applied after all is not applied twice. An equal playlist gets zero writes.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.spotify.api import DamagedPage, chunked, iterate_pages, track_payloads
from spotify_agent.spotify.models import Tier

log = logging.getLogger(__name__)

MAX_ITEMS_PER_CALL = 100  # Spotify's limit for playlist add, replace and remove
ITEMS_PAGE_LIMIT = 50  # the largest page of /playlists/{id}/items


def track_uri(track_id: str) -> str:
    return f"spotify:track:{track_id}"


# -- the writes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Remove:
    """Remove the occurrences at ``positions`` (positions in the snapshot the plan was made from)."""

    items: tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Move:
    """Move ``range_length`` items from ``range_start`` to before ``insert_before`` (pre-move index)."""

    range_start: int
    insert_before: int
    range_length: int = 1


@dataclass(frozen=True)
class Add:
    uris: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class Replace:
    uris: tuple[str, ...]


Write = Remove | Move | Add | Replace
Strategy = Literal["none", "edit", "replace"]


@dataclass(frozen=True)
class PlaylistPlan:
    strategy: Strategy
    writes: tuple[Write, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    moved: int

    @property
    def calls(self) -> int:
        return len(self.writes)


def unique(uris: Iterable[str]) -> list[str]:
    """First occurrences, in order: a managed playlist holds each track once."""
    return list(dict.fromkeys(uris))


def plan_sync(live: Sequence[str], target: Sequence[str]) -> PlaylistPlan:
    """The fewest writes that turn the ``live`` URIs into ``unique(target)``."""
    wanted = unique(target)
    if list(live) == wanted:
        return PlaylistPlan("none", (), (), (), 0)
    edit = _plan_edit(live, wanted)
    replace_calls = max(1, -(-len(wanted) // MAX_ITEMS_PER_CALL))
    if edit.calls <= replace_calls:
        return edit
    writes: list[Write] = [Replace(tuple(wanted[:MAX_ITEMS_PER_CALL]))]
    for start in range(MAX_ITEMS_PER_CALL, len(wanted), MAX_ITEMS_PER_CALL):
        writes.append(Add(tuple(wanted[start : start + MAX_ITEMS_PER_CALL]), start))
    return PlaylistPlan("replace", tuple(writes), edit.added, edit.removed, 0)


def _plan_edit(live: Sequence[str], wanted: list[str]) -> PlaylistPlan:
    wanted_set = set(wanted)
    # 1. Remove what the target lacks. A track the playlist holds more than once loses every
    # copy and is inserted again: Spotify has been seen to ignore `positions` and remove all
    # occurrences of a URI, which would also take the copy meant to stay.
    copies = Counter(live)
    doomed: dict[str, list[int]] = defaultdict(list)
    kept: list[str] = []
    present: set[str] = set()
    for position, uri in enumerate(live):
        if uri in wanted_set and copies[uri] == 1:
            kept.append(uri)
            present.add(uri)
        else:
            doomed[uri].append(position)
    writes: list[Write] = [
        Remove(tuple((uri, tuple(positions)) for uri, positions in chunk))
        for chunk in chunked(list(doomed.items()), MAX_ITEMS_PER_CALL)
    ]
    # 2. Move kept tracks into the target's order; the longest run already in order stays put.
    order = [uri for uri in wanted if uri in present]
    staying = _longest_increasing(kept, order)
    current = list(kept)
    moved = 0
    index = 0
    while index < len(order):
        uri = order[index]
        if uri in staying:
            index += 1
            continue
        start = current.index(uri)
        length = 1
        while (
            index + length < len(order)
            and start + length < len(current)
            and order[index + length] not in staying
            and current[start + length] == order[index + length]
        ):
            length += 1
        insert_before = current.index(order[index - 1]) + 1 if index else 0
        if not start <= insert_before <= start + length:  # else already in place
            block = current[start : start + length]
            del current[start : start + length]
            target_index = current.index(order[index - 1]) + 1 if index else 0
            current[target_index:target_index] = block
            writes.append(Move(start, insert_before, length))
            moved += length
        index += length
    # 3. Insert each run of missing tracks where the target has it.
    run_start: int | None = None
    for position, entry in enumerate([*wanted, None]):
        missing = entry is not None and entry not in present
        if missing and run_start is None:
            run_start = position
        elif not missing and run_start is not None:
            for chunk_start in range(run_start, position, MAX_ITEMS_PER_CALL):
                chunk_end = min(position, chunk_start + MAX_ITEMS_PER_CALL)
                writes.append(Add(tuple(wanted[chunk_start:chunk_end]), chunk_start))
            run_start = None
    added = tuple(uri for uri in wanted if uri not in copies)
    removed = tuple(uri for uri in doomed if uri not in wanted_set)
    return PlaylistPlan("edit", tuple(writes), added, removed, moved)


def _longest_increasing(current: Sequence[str], order: Sequence[str]) -> set[str]:
    """The largest set of ``current`` items already in ``order``'s relative order (an LIS)."""
    rank = {uri: index for index, uri in enumerate(order)}
    ranks = [rank[uri] for uri in current]
    tails: list[int] = []  # index into ranks of the smallest tail of each length
    previous = [-1] * len(ranks)
    for i, value in enumerate(ranks):
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if ranks[tails[middle]] < value:
                low = middle + 1
            else:
                high = middle
        previous[i] = tails[low - 1] if low else -1
        if low == len(tails):
            tails.append(i)
        else:
            tails[low] = i
    staying: set[str] = set()
    i = tails[-1] if tails else -1
    while i != -1:
        staying.add(current[i])
        i = previous[i]
    return staying


def apply_locally(live: Sequence[str], plan: PlaylistPlan) -> list[str]:
    """What Spotify's playlist holds after ``plan`` (the API's semantics, for checks and tests)."""
    original = list(live)
    current: list[tuple[int, str]] = list(enumerate(original))  # (uid, uri)
    for write in plan.writes:
        if isinstance(write, Remove):
            doomed = set()
            for uri, positions in write.items:
                for position in positions:
                    if original[position] != uri:
                        raise ValueError(f"no {uri} at position {position}")
                    doomed.add(position)
            current = [entry for entry in current if entry[0] not in doomed]
        elif isinstance(write, Move):
            block = current[write.range_start : write.range_start + write.range_length]
            rest = current[: write.range_start] + current[write.range_start + write.range_length :]
            at = write.insert_before
            if at > write.range_start:
                at = max(write.range_start, at - write.range_length)
            current = rest[:at] + block + rest[at:]
        elif isinstance(write, Add):
            new = [(-1, uri) for uri in write.uris]
            current[write.position : write.position] = new
        else:
            current = [(-1, uri) for uri in write.uris]
    return [uri for _, uri in current]


# -- talking to Spotify -------------------------------------------------------------------------
class PlaylistClient(Protocol):
    """The subset of ``spotipy.Spotify`` (a user client) the sync uses."""

    def playlist(self, playlist_id: str, fields: str | None = None) -> Any: ...
    def playlist_items(
        self, playlist_id: str, fields: str | None = None, limit: int = 50
    ) -> Any: ...
    def next(self, result: Any) -> Any: ...
    def tracks(self, tracks: list[str]) -> Any: ...
    def track(self, track_id: str) -> Any: ...
    def playlist_add_items(
        self, playlist_id: str, items: list[str], position: int | None
    ) -> Any: ...
    def playlist_replace_items(self, playlist_id: str, items: list[str]) -> Any: ...
    def playlist_reorder_items(
        self,
        playlist_id: str,
        range_start: int,
        insert_before: int,
        range_length: int = 1,
        snapshot_id: str | None = None,
    ) -> Any: ...
    def playlist_remove_specific_occurrences_of_items(
        self, playlist_id: str, items: list[dict[str, Any]], snapshot_id: str | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class LivePlaylist:
    playlist_id: str
    snapshot_id: str
    uris: tuple[str, ...]


class DamagedPlaylist(ValueError):
    """A playlist read that cannot be planned from (an item without a URI, a broken page)."""

    def __init__(self, message: str, payload: Any) -> None:
        super().__init__(message)
        self.payload = payload


def read_playlist(
    client: PlaylistClient,
    playlist_id: str,
    *,
    attempts: int = 3,
    damaged: list[QuarantinedItem] | None = None,
) -> LivePlaylist:
    """The playlist's snapshot id and the URI of every item, in order, read consistently.

    The snapshot id is read before and after the items; if it changed in between, the items are
    read again, so a plan never mixes two versions. A damaged reading (an item without a URI, a
    page without items, a count that disagrees with ``total``) is added to ``damaged`` for the
    quarantine and read again, up to ``attempts`` readings in all.
    """
    source = f"spotify:playlist:{playlist_id}"
    last: DamagedPlaylist | None = None
    for _ in range(attempts):
        try:
            snapshot_id = _snapshot_id(client, playlist_id)
            uris: list[str] = []
            first = client.playlist_items(playlist_id, limit=ITEMS_PAGE_LIMIT)
            try:
                for item in iterate_pages(client, first):
                    uris.append(_item_uri(item))
            except DamagedPage as error:
                raise DamagedPlaylist(str(error), first) from None
            total = first.get("total") if isinstance(first, dict) else None
            if total is not None and total != len(uris):
                raise DamagedPlaylist(f"{len(uris)} items read, total says {total}", first)
            if _snapshot_id(client, playlist_id) == snapshot_id:
                return LivePlaylist(playlist_id, snapshot_id, tuple(uris))
            last = DamagedPlaylist(f"playlist {playlist_id} changed while it was read", None)
        except DamagedPlaylist as error:
            last = error
            if damaged is not None and error.payload is not None:
                damaged.append(QuarantinedItem(source, error.payload, str(error)))
    raise last or DamagedPlaylist(f"playlist {playlist_id}: no reading attempted", None)


def _snapshot_id(client: PlaylistClient, playlist_id: str) -> str:
    answer = client.playlist(playlist_id, fields="snapshot_id")
    snapshot_id = answer.get("snapshot_id") if isinstance(answer, dict) else None
    if not isinstance(snapshot_id, str) or not snapshot_id:
        raise DamagedPlaylist(f"playlist {playlist_id}: answer without snapshot_id", answer)
    return snapshot_id


class UnmanageablePlaylist(ValueError):
    """The playlist holds items the Web API cannot write (local files): it cannot be managed."""


def _item_uri(item: Any) -> str:
    # Since February 2026 the object is under "item"; extended-tier answers repeat it as "track".
    obj = (item.get("item") or item.get("track")) if isinstance(item, dict) else None
    uri = obj.get("uri") if isinstance(obj, dict) else None
    if isinstance(uri, str) and uri.startswith("spotify:local:"):
        raise UnmanageablePlaylist(
            "the playlist holds a local file, which the Web API cannot remove or move; "
            "remove local files from a managed playlist in the Spotify app"
        )
    if not isinstance(uri, str) or not uri.startswith("spotify:"):
        raise DamagedPlaylist("playlist item without a Spotify URI", item)
    return uri


def known_track_ids(
    client: PlaylistClient, track_ids: Sequence[str], *, tier: Tier
) -> tuple[list[str], list[QuarantinedItem]]:
    """The ids Spotify knows, and a quarantine entry for each it does not (never sent in a write).

    Spotify refuses a whole add call when one id is unknown, so ids are checked before writing:
    ``ceil(n / 50)`` calls on the extended tier, one per id on the development tier.
    """
    found = {
        track_id: payload is not None
        for track_id, payload in track_payloads(client, track_ids, tier=tier).items()
    }
    known = [track_id for track_id in track_ids if found[track_id]]
    unknown = [
        QuarantinedItem(
            "playlist_target", {"track_id": track_id}, "Spotify does not know this track id", "id"
        )
        for track_id in track_ids
        if not found[track_id]
    ]
    return known, unknown


@dataclass
class SyncResult:
    playlist_id: str
    snapshot_before: str
    snapshot_after: str
    strategy: Strategy
    added: tuple[str, ...]
    removed: tuple[str, ...]
    moved: int
    write_calls: int = 0
    rounds: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.moved)


class SyncRefused(RuntimeError):  # noqa: N818 - named for what happened
    """The target looks wrong (empty, or far shorter than the playlist): nothing was written."""


def shrink_guard(
    max_shrink_pct: float | None, *, expected: int | None = None
) -> Callable[[int, int], str | None]:
    """A ``guard`` for :func:`sync_playlist`: refuses an empty target, and one that would drop
    more than ``max_shrink_pct`` percent of the playlist's tracks while also falling that far
    short of the ``expected`` size (a rule's `size`): a collapsed target means missing data,
    a playlist first brought down to its configured size does not. ``None``: no such limit."""

    def guard(live_count: int, target_count: int) -> str | None:
        if target_count == 0 and live_count > 0:
            return "the target is empty (no data for its rule?); the playlist is left as it is"
        if max_shrink_pct is None or not live_count:
            return None
        floor = 1 - max_shrink_pct / 100
        short_of_size = expected is None or target_count < expected * floor
        if target_count < live_count * floor and short_of_size:
            shrink = 100.0 * (live_count - target_count) / live_count
            return (
                f"the target has {target_count} tracks where the playlist has {live_count} "
                f"({shrink:.0f}% fewer, more than {max_shrink_pct:g}%); the playlist is left "
                "as it is"
            )
        return None

    return guard


class PlaylistNotConverged(RuntimeError):
    """The playlist still differs from its target after every round (someone else edits it?)."""


def sync_playlist(
    client: PlaylistClient,
    playlist_id: str,
    target_uris: Sequence[str],
    *,
    rounds: int = 3,
    is_uncertain: Callable[[BaseException], bool] = lambda error: False,
    vet: Callable[[Sequence[str]], Sequence[str]] | None = None,
    on_plan: Callable[[SyncResult], None] | None = None,
    damaged: list[QuarantinedItem] | None = None,
    guard: Callable[[int, int], str | None] | None = None,
) -> SyncResult:
    """Make the playlist equal ``unique(target_uris)``; return what changed and what it cost.

    ``is_uncertain`` says after which errors a write's outcome is unknown (a server error, a
    timeout, a damaged answer, a plan gone stale): the next round reads the playlist again instead
    of repeating the write. ``vet`` gets the URIs the sync would add and returns those to leave
    out (tracks Spotify does not know refuse a whole add call). ``guard`` gets the live and
    target track counts and may refuse the sync (:class:`SyncRefused`, nothing written).
    ``on_plan`` is called once, before the first write, with the diff. Damaged readings are
    collected in ``damaged``.
    """
    live = read_playlist(client, playlist_id, damaged=damaged)
    plan = plan_sync(live.uris, target_uris)
    if vet is not None and plan.added:
        rejected = set(vet(plan.added))
        if rejected:
            target_uris = [uri for uri in target_uris if uri not in rejected]
            plan = plan_sync(live.uris, target_uris)
    if guard is not None and plan.writes:
        reason = guard(len(live.uris), len(unique(target_uris)))
        if reason is not None:
            raise SyncRefused(f"playlist {playlist_id}: {reason}")
    result = SyncResult(
        playlist_id,
        live.snapshot_id,
        live.snapshot_id,
        plan.strategy,
        plan.added,
        plan.removed,
        plan.moved,
    )
    if plan.writes and on_plan is not None:
        on_plan(result)
    last_error: BaseException | None = None
    for round_number in range(1, rounds + 1):
        result.rounds = round_number
        if not plan.writes:
            break
        try:
            _apply(client, live, plan, result)
        except Exception as error:
            if not is_uncertain(error):
                raise
            last_error = error
            log.warning(
                "playlist %s: a write's outcome is unknown (%s); reading it again",
                playlist_id,
                error,
            )
        # Read back: proves the writes landed, or plans the rest from what is really there.
        live = read_playlist(client, playlist_id, damaged=damaged)
        plan = plan_sync(live.uris, target_uris)
    if plan.writes:
        raise PlaylistNotConverged(
            f"playlist {playlist_id} still differs from its target after {rounds} rounds"
            + (f" (last error: {last_error})" if last_error else "")
        )
    result.snapshot_after = live.snapshot_id
    return result


def _apply(
    client: PlaylistClient, live: LivePlaylist, plan: PlaylistPlan, result: SyncResult
) -> None:
    snapshot_id = live.snapshot_id
    for write in plan.writes:
        result.write_calls += 1
        if isinstance(write, Remove):
            # Positions refer to the version that was read, whatever happened since.
            answer = client.playlist_remove_specific_occurrences_of_items(
                live.playlist_id,
                [{"uri": uri, "positions": list(positions)} for uri, positions in write.items],
                snapshot_id=live.snapshot_id,
            )
        elif isinstance(write, Move):
            answer = client.playlist_reorder_items(
                live.playlist_id,
                range_start=write.range_start,
                insert_before=write.insert_before,
                range_length=write.range_length,
                snapshot_id=snapshot_id,
            )
        elif isinstance(write, Add):
            answer = client.playlist_add_items(
                live.playlist_id, list(write.uris), position=write.position
            )
        else:
            answer = client.playlist_replace_items(live.playlist_id, list(write.uris))
        snapshot_id = (answer or {}).get("snapshot_id") or snapshot_id
