"""SpotifyHook against the bundled emulator over real HTTP, through spotipy."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import pytest

from spotify_agent.core.errors import PermanentFailure, RetryLater
from spotify_agent.spotify.api import IncompleteListing, fetch_artist_albums, fetch_artists
from spotify_agent.spotify.errors import MalformedResponse, orchestration_errors
from spotify_agent.spotify.resilience import Resilient
from spotify_agent_airflow.hooks import spotify as spotify_hook_module
from spotify_agent_airflow.hooks.spotify import SpotifyHook
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator

# Enough artists for several 50-id batches, and enough releases for several pages.
CATALOG = CatalogSpec(seed=7, n_artists=130, albums_per_artist=25, tracks_per_album=2)


@pytest.fixture(scope="module")
def extended() -> Iterator[EmulatorHandle]:
    with run_emulator(tier="extended", catalog=CATALOG) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def development() -> Iterator[EmulatorHandle]:
    with run_emulator(tier="development", catalog=CATALOG) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    spotify_hook_module._TOKEN_CACHES.clear()
    yield
    spotify_hook_module._TOKEN_CACHES.clear()


def _connect(
    monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorHandle,
    conn_id: str = "spotify_test",
    **extra: object,
) -> SpotifyHook:
    connection = emulator.connection(**extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    emulator.reset_stats()
    return SpotifyHook(conn_id)


def _calls(emulator: EmulatorHandle, route: str) -> int:
    """Calls the emulator saw on ``route`` (e.g. ``GET /v1/artists``), all statuses."""
    by_route = emulator.stats()["by_route"]
    return sum(sum(by_status.values()) for name, by_status in by_route.items() if name == route)


def test_extended_tier_fetches_artists_fifty_per_call(monkeypatch, extended) -> None:
    hook = _connect(monkeypatch, extended)
    ids = extended.artist_ids()[:120]
    parsed = fetch_artists(hook.client, ids, tier=hook.tier)
    assert [artist.id for artist in parsed.valid] == ids and parsed.quarantined == []
    assert all(artist.popularity is not None for artist in parsed.valid)
    assert _calls(extended, "GET /v1/artists") == math.ceil(120 / 50)
    assert hook.stats.total == math.ceil(120 / 50)


def test_development_tier_falls_back_to_single_calls_and_keeps_withheld_fields_missing(
    monkeypatch, development
) -> None:
    hook = _connect(monkeypatch, development)
    ids = development.artist_ids()[:12]
    parsed = fetch_artists(hook.client, ids, tier=hook.tier)
    assert [artist.id for artist in parsed.valid] == ids
    assert all(a.popularity is None and a.follower_count is None for a in parsed.valid)
    assert _calls(development, "GET /v1/artists/{artist_id}") == 12


def test_paging_follows_next_links_to_every_release(monkeypatch, extended, development) -> None:
    for emulator in (extended, development):
        hook = _connect(monkeypatch, emulator)
        catalog = emulator.catalog
        artist_id = max(
            catalog.artists,
            key=lambda a: sum(a in album.artist_ids for album in catalog.albums.values()),
        )
        total = hook.client.artist_albums(artist_id, include_groups="album,single", limit=1)[
            "total"
        ]
        assert total > 10, "pick an artist with several pages of releases"
        parsed = fetch_artist_albums(hook.client, artist_id, tier=hook.tier)
        ids = [album.id for album in parsed.valid]
        assert len(ids) == total == len(set(ids))
        page_size = 50 if emulator.tier == "extended" else 10
        assert _calls(emulator, "GET /v1/artists/{artist_id}/albums") == 1 + math.ceil(
            total / page_size
        )


def test_tokens_are_cached_across_hooks_in_a_process(monkeypatch, extended) -> None:
    first = _connect(monkeypatch, extended)
    first.client.artist(extended.artist_ids()[0])
    second = SpotifyHook("spotify_test")
    second.client.artist(extended.artist_ids()[1])
    assert _calls(extended, "POST /api/token") == 1


def test_a_long_retry_after_raises_at_once_instead_of_sleeping(monkeypatch) -> None:
    with run_emulator(rate_limit=1, retry_after_s=3600) as emulator:
        hook = _connect(monkeypatch, emulator, max_retry_after_s=30)
        hook.client.artist(emulator.artist_ids()[0])
        started = time.monotonic()
        with pytest.raises(RetryLater) as caught, orchestration_errors("spotify_test"):
            hook.client.artist(emulator.artist_ids()[1])
        assert time.monotonic() - started < 5
        assert caught.value.retry_after_s == 3600
        assert hook.stats.rate_limited == 1


def test_a_short_retry_after_is_waited_out_and_counted(monkeypatch) -> None:
    with run_emulator(rate_limit=2, rate_window_s=1, retry_after_s=1) as emulator:
        hook = _connect(monkeypatch, emulator)
        ids = emulator.artist_ids()[:4]
        artists = [hook.client.artist(artist_id)["id"] for artist_id in ids]
        assert artists == ids
        assert hook.stats.rate_limited >= 1
        assert emulator.stats()["rate_limited"] == hook.stats.rate_limited


def test_a_malformed_body_raises_with_the_raw_bytes(monkeypatch) -> None:
    with run_emulator(faults="rate=1,seed=1,kinds=malformed") as emulator:
        hook = _connect(monkeypatch, emulator)
        with pytest.raises(MalformedResponse) as caught:
            hook.client.artist(emulator.artist_ids()[0])
        assert caught.value.body and caught.value.url.startswith(emulator.api_url)


def test_wrong_secret_fails_fast_naming_the_connection_and_calls_nothing(
    monkeypatch, extended
) -> None:
    hook = _connect(monkeypatch, extended, client_secret="not-the-secret")
    with pytest.raises(PermanentFailure, match="spotify_test: Spotify refused the credentials"):
        with orchestration_errors("spotify_test"):
            hook.client.artist(extended.artist_ids()[0])
    assert extended.stats()["total_calls"] == _calls(extended, "POST /api/token")
    ok, message = hook.test_connection()
    assert not ok and "invalid_client" in message


def test_connection_test_passes_with_good_credentials(monkeypatch, development) -> None:
    ok, message = _connect(monkeypatch, development).test_connection()
    assert ok, message
    assert "development tier" in message


def test_user_client_reads_recently_played_and_a_revoked_token_fails_fast(monkeypatch) -> None:
    with run_emulator() as emulator:
        hook = _connect(monkeypatch, emulator)
        page = hook.user_client.current_user_recently_played(limit=10)
        assert len(page["items"]) == 10
        emulator.revoke(refresh_token=emulator.refresh_token)
        spotify_hook_module._TOKEN_CACHES.clear()
        hook = _connect(monkeypatch, emulator)
        with pytest.raises(PermanentFailure, match="invalid_grant"):
            with orchestration_errors("spotify_test"):
                hook.user_client.current_user_recently_played(limit=10)


def test_missing_tier_or_credentials_are_named(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPOTIFY_BAD",
        json.dumps(
            {"conn_type": "spotify", "login": "x", "password": "y", "extra": {"tier": "free"}}
        ),
    )
    with pytest.raises(ValueError, match="extra.tier must be 'extended' or 'development'"):
        _ = SpotifyHook("spotify_bad").settings
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPOTIFY_BAD",
        json.dumps({"conn_type": "spotify", "extra": {"tier": "extended"}}),
    )
    with pytest.raises(ValueError, match="client id .* and client secret .* are required"):
        _ = SpotifyHook("spotify_bad").settings


def test_unknown_ids_are_quarantined_with_the_id_on_both_tiers(
    monkeypatch, extended, development
) -> None:
    unknown = "0" * 22
    for emulator in (extended, development):
        hook = _connect(monkeypatch, emulator)
        known = emulator.artist_ids()[:3]
        parsed = fetch_artists(hook.client, [known[0], unknown, *known[1:]], tier=hook.tier)
        assert [a.id for a in parsed.valid] == known
        assert [(q.payload, q.reason) for q in parsed.quarantined] == [
            ({"requested_id": unknown}, "unknown artist id")
        ]


def test_damaged_objects_are_quarantined_and_fetched_again(monkeypatch) -> None:
    with run_emulator(catalog=CATALOG, faults="rate=0.3,seed=11,kinds=missing_fields") as emulator:
        hook = _connect(monkeypatch, emulator)
        ids = emulator.artist_ids()[:100]
        parsed = fetch_artists(Resilient(hook.client), ids, tier="extended")
        assert parsed.quarantined, "the fault rate should have damaged some objects"
        assert all("Field required" in q.reason for q in parsed.quarantined)
        # Each damaged object was fetched again on its own; the second answer was usually whole.
        assert [a.id for a in parsed.valid] == [i for i in ids if i in {a.id for a in parsed.valid}]
        missing = len(ids) - len(parsed.valid)
        assert len(parsed.quarantined) >= missing * 2 and missing <= 5


def test_corrupt_bodies_are_kept_and_the_read_repeated(monkeypatch) -> None:
    with run_emulator(
        catalog=CATALOG, faults="rate=0.3,seed=5,kinds=malformed+truncated"
    ) as emulator:
        hook = _connect(monkeypatch, emulator)
        client = Resilient(hook.client, attempts=5, backoff_s=0)
        ids = emulator.artist_ids()[:40]
        fetched = [client.artist(artist_id)["id"] for artist_id in ids]
        assert fetched == ids
        assert client.repeated_calls >= 1
        assert len(client.quarantined) >= 1
        assert all(q.reason.startswith("malformed response") for q in client.quarantined)


def test_damaged_release_listings_are_read_again_until_whole(monkeypatch) -> None:
    with run_emulator(catalog=CATALOG) as emulator:
        hook = _connect(monkeypatch, emulator)
        artist_ids = emulator.artist_ids()[:15]
        clean = {
            a: sorted(x.id for x in fetch_artist_albums(hook.client, a, tier="extended").valid)
            for a in artist_ids
        }
        emulator.set_faults("rate=0.3,seed=9,kinds=missing_fields")
        damaged_seen = 0
        for artist_id in artist_ids:
            parsed = fetch_artist_albums(
                Resilient(hook.client), artist_id, tier="extended", attempts=6
            )
            damaged_seen += len(parsed.quarantined)
            assert sorted(x.id for x in parsed.valid) == clean[artist_id]
        assert damaged_seen > 0, "the faults should have damaged some listings"


def test_two_users_of_one_app_never_share_a_token(monkeypatch) -> None:
    with run_emulator() as emulator:
        alice = spotify_hook_module._token_cache(
            _connect(
                monkeypatch, emulator, conn_id="spotify_alice", refresh_token="rt-alice"
            ).settings,
            "refresh_token",
        )
        bob = spotify_hook_module._token_cache(
            _connect(monkeypatch, emulator, conn_id="spotify_bob", refresh_token="rt-bob").settings,
            "refresh_token",
        )
        assert alice is not bob
        assert alice.get_cached_token()["refresh_token"] == "rt-alice"
        assert bob.get_cached_token()["refresh_token"] == "rt-bob"


def test_a_connection_of_another_type_is_refused(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_AS_SPOTIFY",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db",
                "login": "etl",
                "password": "secret",  # pragma: allowlist secret
            }
        ),
    )
    with pytest.raises(ValueError, match="is a 'postgres' connection, not 'spotify'"):
        _ = SpotifyHook("warehouse_as_spotify").settings


def test_a_listing_never_whole_is_reported_not_stored(monkeypatch) -> None:
    with run_emulator(catalog=CATALOG, faults="rate=1,seed=2,kinds=missing_fields") as emulator:
        hook = _connect(monkeypatch, emulator)
        artist_id = emulator.artist_ids()[0]
        with pytest.raises(IncompleteListing) as caught:
            fetch_artist_albums(hook.client, artist_id, tier="extended", attempts=2)
        assert caught.value.artist_id == artist_id and caught.value.quarantined
