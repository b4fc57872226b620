"""The seeded generator, fixture files, and the command line entry point."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from spotify_emulator.catalog import is_spotify_id
from spotify_emulator.config import CatalogSpec
from spotify_emulator.fixtures import InvalidFixture, dump_fixture, load_fixture
from spotify_emulator.generator import generate_catalog
from spotify_emulator.testing import run_emulator

INCLUDE = Path(__file__).resolve().parents[3] / "include"
END = 1_790_000_000_000  # a fixed history end makes the whole catalogue reproducible
SPEC = CatalogSpec(seed=42, history_end_ms=END)


def test_same_seed_same_catalogue_other_seed_other_catalogue() -> None:
    first, again = generate_catalog(SPEC), generate_catalog(SPEC)
    assert first == again
    other = generate_catalog(CatalogSpec(seed=43, history_end_ms=END))
    assert set(other.artists).isdisjoint(first.artists)
    assert [a.name for a in other.artists.values()] != [a.name for a in first.artists.values()]


def test_catalogue_values_look_like_spotify() -> None:
    catalog = generate_catalog(SPEC)
    for table in (catalog.artists, catalog.albums, catalog.tracks, catalog.playlists):
        assert all(is_spotify_id(object_id) for object_id in table)
    assert len(catalog.artists) == SPEC.n_artists
    assert all(1 <= len(artist.genres) <= 3 for artist in catalog.artists.values())
    for album in catalog.albums.values():
        pattern = {"year": r"\d{4}", "month": r"\d{4}-\d\d", "day": r"\d{4}-\d\d-\d\d"}
        assert re.fullmatch(pattern[album.release_date_precision], album.release_date)
        assert album.markets and all(re.fullmatch(r"[A-Z]{2}", m) for m in album.markets)
        assert 0 <= album.popularity <= 100
    for history in catalog.plays.values():
        times = [play.played_at_ms for play in history]
        assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
        assert END - 30 * 86_400_000 < times[-1] < times[0] < END


def test_plays_and_popularity_are_skewed_like_real_listening() -> None:
    catalog = generate_catalog(CatalogSpec(seed=42, events_per_user=1000, history_end_ms=END))
    plays = Counter(
        catalog.tracks[play.track_id].artist_ids[0]
        for history in catalog.plays.values()
        for play in history
    )
    ranked = [count for _, count in plays.most_common()]
    top_tenth = sum(ranked[: len(catalog.artists) // 10])
    assert top_tenth / sum(ranked) > 0.55  # a clear majority of plays
    # The most played artists are also the most popular ones.
    head = [artist for artist, _ in plays.most_common(len(catalog.artists) // 10)]
    head_popularity = sum(catalog.artists[a].popularity for a in head) / len(head)
    overall = sum(a.popularity for a in catalog.artists.values()) / len(catalog.artists)
    assert head_popularity > overall + 25
    followers = sorted(artist.followers for artist in catalog.artists.values())
    assert followers[-1] > 1000 * followers[len(followers) // 2]  # heavy tail


def test_fixture_round_trip_through_a_file(tmp_path: Path) -> None:
    catalog = generate_catalog(CatalogSpec(seed=9, n_artists=25, history_end_ms=END))
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(dump_fixture(catalog)), encoding="utf-8")
    assert load_fixture(path) == catalog


def test_fixtures_pin_exact_data_served_over_http(tmp_path: Path) -> None:
    artist = {"id": "0LcJLqbBmaGUft1e9Mm8HV", "name": "ABBA", "genres": ["europop"], "popularity": 66, "followers": {"total": 9000}}  # fmt: skip
    album = {
        "id": "1M4anG49aEs4YimBdj96Oy",
        "name": "Arrival",
        "album_type": "album",
        "release_date": "1976-10-11",
        "artists": [{"id": artist["id"], "name": "ABBA"}],
        "available_markets": ["SE", "GB"],
        # Tracks inside the album, as in a captured album response.
        "tracks": {
            "items": [
                {
                    "id": "2ATDkfqprlNNe9mYWodgdc",
                    "name": "Money, Money, Money",
                    "track_number": 2,
                    "artists": [{"id": artist["id"]}],
                },  # fmt: skip
                {
                    "id": "0GjEhVFGZW8afUYGChu3Rr",
                    "name": "Dancing Queen",
                    "track_number": 1,
                    "artists": [{"id": artist["id"]}],
                },  # fmt: skip
            ]
        },
    }
    path = tmp_path / "abba.json"
    path.write_text(json.dumps({"artists": [artist], "albums": [album]}), encoding="utf-8")
    with run_emulator(catalog=path, seed=1) as emulator:
        token = httpx.post(
            emulator.token_url,
            data={"grant_type": "client_credentials"},
            auth=(emulator.client_id, emulator.client_secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        served = httpx.get(f"{emulator.api_url}/albums/{album['id']}", headers=headers).json()
        assert served["name"] == "Arrival" and served["release_date_precision"] == "day"
        assert [t["name"] for t in served["tracks"]["items"]] == [
            "Dancing Queen",
            "Money, Money, Money",
        ]
        assert served["available_markets"] == ["SE", "GB"]
        found = httpx.get(
            f"{emulator.api_url}/search", params={"q": "abba", "type": "artist"}, headers=headers
        ).json()
        assert found["artists"]["items"][0]["followers"]["total"] == 9000
        # Users and their listening come from the seed, over the pinned tracks.
        assert emulator.catalog.plays[emulator.user_id]


def test_broken_fixture_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"tracks": [{"id": "x", "name": "orphan"}]}), encoding="utf-8")
    with pytest.raises(InvalidFixture, match="album.id"):
        load_fixture(path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_command_line_serves_and_generates(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(INCLUDE), os.environ.get("PYTHONPATH", "")]),
    }
    out = tmp_path / "generated.json"
    generated = subprocess.run(
        [sys.executable, "-m", "spotify_emulator", "generate", "--artists", "12",
         "--users", "2", "--events-per-user", "20", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    assert len(load_fixture(out).artists) == 12
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "spotify_emulator", "serve", "--port", str(port),
         "--tier", "development", "--faults", "rate=0.5,seed=7,kinds=503", "--fixtures", str(out),
         "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        health = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).json()
            except httpx.HTTPError:
                assert server.poll() is None, server.communicate()[1]
                time.sleep(0.1)
        assert health is not None
        assert health["tier"] == "development" and health["catalog"]["artists"] == 12
        faults = httpx.get(f"http://127.0.0.1:{port}/_emulator/faults").json()
        assert faults["rate"] == 0.5 and faults["kinds"] == ["503"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    bad = subprocess.run(
        [sys.executable, "-m", "spotify_emulator", "serve", "--faults", "kinds=404"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert bad.returncode == 2 and "404" in bad.stderr
