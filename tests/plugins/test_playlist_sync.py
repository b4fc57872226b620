"""sync_playlist through SpotifyHook's user client against the emulator, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from spotipy.exceptions import SpotifyException

from spotify_agent.core.errors import PermanentFailure
from spotify_agent.spotify.errors import orchestration_errors, write_outcome_unknown
from spotify_agent.spotify.playlists import (
    known_track_ids,
    read_playlist,
    sync_playlist,
    track_uri,
)
from spotify_agent.spotify.resilience import Resilient
from spotify_agent_airflow.hooks import spotify as spotify_hook_module
from spotify_agent_airflow.hooks.spotify import SpotifyHook
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator

CATALOG = CatalogSpec(seed=11, n_artists=40, albums_per_artist=4, tracks_per_album=8, n_users=2)
WRITE_ROUTES = tuple(
    f"{method} /v1/playlists/{{playlist_id}}/items" for method in ("POST", "PUT", "DELETE")
)


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    spotify_hook_module._TOKEN_CACHES.clear()
    yield
    spotify_hook_module._TOKEN_CACHES.clear()


@pytest.fixture(scope="module", params=["extended", "development"])
def emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    with run_emulator(tier=request.param, catalog=CATALOG) as handle:
        yield handle


def _hook(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorHandle) -> SpotifyHook:
    monkeypatch.setenv("AIRFLOW_CONN_SPOTIFY_TEST", json.dumps(emulator.connection()))
    emulator.set_faults(None)
    emulator.reset_stats()
    return SpotifyHook("spotify_test")


def _own_playlist(emulator: EmulatorHandle, index: int = 0) -> str:
    owned = sorted(
        p.id for p in emulator.catalog.playlists.values() if p.owner_id == emulator.user_id
    )
    return owned[index]


def _writes(emulator: EmulatorHandle) -> int:
    by_route = emulator.stats()["by_route"]
    return sum(sum(by_route.get(route, {}).values()) for route in WRITE_ROUTES)


def _target(emulator: EmulatorHandle, count: int, offset: int = 0) -> list[str]:
    return [
        track_uri(track_id) for track_id in sorted(emulator.catalog.tracks)[offset : offset + count]
    ]


def test_a_playlist_becomes_its_target_and_a_second_sync_writes_nothing(
    monkeypatch, emulator
) -> None:
    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    playlist_id = _own_playlist(emulator)
    target = _target(emulator, 30)

    first = sync_playlist(client, playlist_id, target, is_uncertain=write_outcome_unknown)
    assert list(read_playlist(client, playlist_id).uris) == target
    assert first.changed and first.write_calls >= 1
    assert first.snapshot_after != first.snapshot_before
    assert _writes(emulator) == first.write_calls

    emulator.reset_stats()
    second = sync_playlist(client, playlist_id, target, is_uncertain=write_outcome_unknown)
    assert (second.strategy, second.write_calls, second.changed) == ("none", 0, False)
    assert second.snapshot_after == first.snapshot_after
    assert _writes(emulator) == 0


def test_a_long_playlist_is_edited_in_calls_of_at_most_100_items(monkeypatch, emulator) -> None:
    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    playlist_id = _own_playlist(emulator, 1)
    target = _target(emulator, 250)
    sync_playlist(client, playlist_id, target, is_uncertain=write_outcome_unknown)
    assert list(read_playlist(client, playlist_id).uris) == target

    # Next day: two tracks leave, two enter at rank 11 -> one removal and one insertion.
    changed = [*target[:10], *_target(emulator, 2, offset=300), *target[10:45], *target[47:]]
    emulator.reset_stats()
    result = sync_playlist(client, playlist_id, changed, is_uncertain=write_outcome_unknown)
    assert list(read_playlist(client, playlist_id).uris) == changed
    assert (result.strategy, result.write_calls) == ("edit", 2)
    assert result.added == tuple(_target(emulator, 2, offset=300))
    assert result.removed == tuple(target[45:47])
    assert _writes(emulator) == 2


def test_writes_whose_answer_is_lost_are_not_applied_twice(monkeypatch, emulator) -> None:
    """Damaged answers to applied writes, and 5xx: the sync re-reads and never duplicates."""
    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    playlist_id = _own_playlist(emulator)
    start = _target(emulator, 120, offset=100)
    sync_playlist(client, playlist_id, start, is_uncertain=write_outcome_unknown)
    target = [*start[:50], *_target(emulator, 30, offset=400), *start[60:]]

    emulator.set_faults("rate=0.3,seed=5,kinds=500+502+503+truncated+malformed")
    result = sync_playlist(
        client, playlist_id, target, rounds=6, is_uncertain=write_outcome_unknown
    )
    emulator.set_faults(None)

    assert list(read_playlist(client, playlist_id).uris) == target
    assert emulator.stats()["faults"], "the fault spec must have hit some calls"
    assert result.added == tuple(_target(emulator, 30, offset=400))


def test_unknown_target_tracks_are_left_out_and_reported(monkeypatch, emulator) -> None:
    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    playlist_id = _own_playlist(emulator)
    target = _target(emulator, 5, offset=600)
    ghost = "0" * 21 + "Z"
    known, unknown = known_track_ids(
        client, [uri.rsplit(":", 1)[-1] for uri in target] + [ghost], tier=hook.tier
    )
    assert known == [uri.rsplit(":", 1)[-1] for uri in target]
    assert [item.payload for item in unknown] == [{"track_id": ghost}]

    def vet(uris):
        ids = [uri.rsplit(":", 1)[-1] for uri in uris]
        return [
            track_uri(i.payload["track_id"])
            for i in known_track_ids(client, ids, tier=hook.tier)[1]
        ]

    result = sync_playlist(
        client,
        playlist_id,
        [*target, track_uri(ghost)],
        is_uncertain=write_outcome_unknown,
        vet=vet,
    )
    assert list(read_playlist(client, playlist_id).uris) == target
    assert track_uri(ghost) not in result.added


def test_a_playlist_the_user_does_not_own_fails_at_once_naming_the_connection(
    monkeypatch, emulator
) -> None:
    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    others = sorted(
        p.id for p in emulator.catalog.playlists.values() if p.owner_id != emulator.user_id
    )
    with (
        pytest.raises(PermanentFailure, match=r"spotify_test: HTTP 40[34]"),
        orchestration_errors("spotify_test"),
    ):
        sync_playlist(client, others[0], _target(emulator, 3), is_uncertain=write_outcome_unknown)
    # Nothing was written: the development tier refuses the read, extended the first write.
    by_route = emulator.stats()["by_route"]
    statuses = [status for route in WRITE_ROUTES for status in by_route.get(route, {})]
    assert all(not str(status).startswith("2") for status in statuses)
    assert len(statuses) == (1 if emulator.tier == "extended" else 0)


def test_the_client_repeats_a_write_after_429_but_never_after_a_5xx(monkeypatch, emulator) -> None:
    """A 429 applied nothing and is safe to repeat; a 5xx may have applied the write."""
    hook = _hook(monkeypatch, emulator)
    playlist_id = _own_playlist(emulator)
    uris = _target(emulator, 1, offset=700)
    route = "POST /v1/playlists/{playlist_id}/items"

    emulator.set_faults("rate=1,seed=1,kinds=500")
    with pytest.raises(SpotifyException) as caught:
        hook.user_client.playlist_add_items(playlist_id, uris)
    emulator.set_faults(None)
    assert caught.value.http_status == 500
    assert sum(emulator.stats()["by_route"][route].values()) == 1

    emulator.reset_stats()
    emulator.set_faults("rate=1,seed=1,kinds=429,retry_after=0")
    with pytest.raises(SpotifyException):
        hook.user_client.playlist_add_items(playlist_id, uris)
    emulator.set_faults(None)
    assert sum(emulator.stats()["by_route"][route].values()) == 1 + hook.settings.retries


def test_damaged_readings_are_quarantined_and_read_again(monkeypatch, emulator) -> None:
    """An item without its URI never reaches the plan: it is kept and the playlist read again."""
    import copy

    from spotify_agent.core.quarantine import QuarantinedItem

    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    playlist_id = _own_playlist(emulator)
    target = _target(emulator, 20, offset=800)

    class FirstPageLosesAUri:
        def __init__(self, inner) -> None:
            self.inner, self.damaged_once = inner, False

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def playlist_items(self, *args, **kwargs):
            page = self.inner.playlist_items(*args, **kwargs)
            if self.damaged_once or not page["items"]:
                return page
            self.damaged_once = True
            page = copy.deepcopy(page)
            for key in ("item", "track"):
                page["items"][0].get(key, {}).pop("uri", None)
            return page

    damaged: list[QuarantinedItem] = []
    result = sync_playlist(
        FirstPageLosesAUri(client),
        playlist_id,
        target,
        is_uncertain=write_outcome_unknown,
        damaged=damaged,
    )
    assert list(read_playlist(client, playlist_id).uris) == target
    assert result.changed
    assert [(item.source, item.reason) for item in damaged] == [
        (f"spotify:playlist:{playlist_id}", "playlist item without a Spotify URI")
    ]


def test_a_collapsed_target_is_refused_before_any_write(monkeypatch, emulator) -> None:
    from spotify_agent.spotify.playlists import SyncRefused, shrink_guard

    hook = _hook(monkeypatch, emulator)
    client = Resilient(hook.user_client)
    playlist_id = _own_playlist(emulator)
    target = _target(emulator, 30, offset=900)
    sync_playlist(client, playlist_id, target, is_uncertain=write_outcome_unknown)
    emulator.reset_stats()
    with pytest.raises(SyncRefused, match="the target is empty"):
        sync_playlist(
            client, playlist_id, [], is_uncertain=write_outcome_unknown, guard=shrink_guard(None)
        )
    with pytest.raises(SyncRefused, match="67% fewer, more than 50%"):
        sync_playlist(
            client,
            playlist_id,
            target[:10],
            is_uncertain=write_outcome_unknown,
            guard=shrink_guard(50),
        )
    assert _writes(emulator) == 0
    assert list(read_playlist(client, playlist_id).uris) == target
    # A small change passes the same guard.
    result = sync_playlist(
        client, playlist_id, target[:25], is_uncertain=write_outcome_unknown, guard=shrink_guard(50)
    )
    assert result.changed and list(read_playlist(client, playlist_id).uris) == target[:25]


def test_the_guard_lets_a_playlist_come_down_to_its_configured_size() -> None:
    from spotify_agent.spotify.playlists import shrink_guard

    guard = shrink_guard(50, expected=20)
    assert guard(100, 20) is None  # first managed: 100 tracks brought down to a size of 20
    assert guard(20, 19) is None
    assert "95% fewer" in (guard(20, 1) or "")  # 1 of 20: the listening data is missing
