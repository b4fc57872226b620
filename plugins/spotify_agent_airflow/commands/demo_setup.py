"""What ``make demo`` sets up before its runs: the bundled Spotify emulator where
``spotify_default`` expects it, five weeks of listening history, synthetic audio and the demo's
erasure request. Each is done once: a second demo finds it there."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spotify_agent_airflow.commands import keyring_outside_tasks, warehouse_url_outside_tasks

# A listener who never used the demo: the erasure completes with a receipt saying nothing was found.
# Its request id is fixed, so a second demo finds the request completed and erases nothing again.
DEMO_ERASED_USER = "demo.former-listener"
DEMO_ERASURE_REQUEST = "demo-former-listener"
# Tracks of the emulator's catalogue the demo gives synthetic audio (the last one silent).
DEMO_AUDIO_TRACKS = 12


@dataclass(frozen=True)
class EmulatedSpotify:
    """What the demo needs from the emulator; empty when a real Spotify app is configured."""

    artist_ids: list[str]
    own_playlist_ids: list[str]


@contextmanager
def spotify_emulator(log_dir: Path) -> Iterator[EmulatedSpotify]:
    """Start the bundled Spotify emulator where ``spotify_default`` expects it (on loopback).

    Yields the emulator's artist ids and the connection user's playlists, or nothing when the
    connection points elsewhere (a real Spotify app): the demo then uses the existing watch list
    and managed playlists.
    """
    from urllib.parse import urlsplit

    from airflow.models.connection import Connection

    host = Connection.get_connection_from_secrets("spotify_default").host or ""
    address = urlsplit(host)
    if address.hostname not in ("127.0.0.1", "localhost") or address.port is None:
        print(f"spotify_default points at {host or 'api.spotify.com'}: not starting the emulator")
        yield EmulatedSpotify([], [])
        return
    base = f"http://{address.hostname}:{address.port}"
    command = [
        sys.executable,
        "-m",
        "spotify_emulator",
        "serve",
        "--host",
        address.hostname,
    ]
    command += ["--port", str(address.port), "--seed", "42"]
    with (log_dir / "spotify_emulator.log").open("w") as log_file:
        emulator = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            artist_ids = _wait_for_emulator(base, emulator)
            print(
                f"Spotify emulator on {base} ({len(artist_ids)} artists; log: var/demo/spotify_emulator.log)"
            )
            yield EmulatedSpotify(artist_ids, _own_playlist_ids(base))
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)


def _wait_for_emulator(
    base: str, process: subprocess.Popen[bytes], timeout_s: float = 30
) -> list[str]:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"the Spotify emulator exited (is port {base} taken?); see var/demo/spotify_emulator.log"
            )
        try:
            response = httpx.get(f"{base}/_emulator/catalog/artists", timeout=2)
            if response.status_code == 200:
                return list(response.json()["ids"])
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the Spotify emulator did not answer on {base} within {timeout_s:.0f} s")


def _own_playlist_ids(base: str) -> list[str]:
    """The playlists of the connection's user, asked through the Web API like any client."""
    import httpx
    from airflow.models.connection import Connection

    connection = Connection.get_connection_from_secrets("spotify_default")
    token = httpx.post(
        f"{base}/api/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": connection.extra_dejson.get("refresh_token", ""),
        },
        auth=(connection.login or "", connection.password or ""),
        timeout=10,
    )
    token.raise_for_status()
    page = httpx.get(
        f"{base}/v1/me/playlists?limit=50",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    page.raise_for_status()
    return [playlist["id"] for playlist in page.json()["items"]]


def record_demo_erasure() -> str:
    """The demo's erasure request, recorded as the backend would: the run conf names only it."""
    from datetime import UTC, datetime

    from spotify_agent.maintenance.erasure import record_request
    from spotify_agent_airflow.hooks.warehouse import shared_engine

    with shared_engine(warehouse_url_outside_tasks()).begin() as connection:
        request_id, _ = record_request(
            connection,
            user_id=DEMO_ERASED_USER,
            keyring=keyring_outside_tasks(),
            requested_by="demo",
            trace_id=secrets.token_hex(16),
            at=datetime.now(UTC),
            request_id=DEMO_ERASURE_REQUEST,
        )
    return request_id


def seed_demo_history() -> int:
    """Five weeks of finished days before today, once, of the emulator's tracks (the demo
    starts it with seed 42), the most played first."""
    from datetime import UTC, datetime, timedelta

    from spotify_agent.analytics.demo_history import SeedTrack, seed_history
    from spotify_agent_airflow.hooks.warehouse import shared_engine
    from spotify_emulator.config import CatalogSpec
    from spotify_emulator.testing import build_catalog

    catalog = build_catalog(CatalogSpec(seed=42))
    tracks = sorted(catalog.tracks.values(), key=lambda track: (-track.weight, track.id))
    catalogue = [
        SeedTrack(
            t.id, t.artist_ids[0], catalog.artists[t.artist_ids[0]].name, t.name, t.duration_ms
        )
        for t in tracks
    ]
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with shared_engine(warehouse_url_outside_tasks()).begin() as connection:
        return seed_history(connection, last_day=yesterday, catalogue=catalogue)


def seed_demo_audio() -> int:
    """Synthetic music for the most played tracks of the emulator's catalogue, once, in a local
    object store (a real store holds real audio)."""
    from spotify_agent import resolve_project_path
    from spotify_agent.ml.audio.synthetic import demo_library
    from spotify_agent_airflow.object_store import DEFAULT_OBJECT_STORE_URL
    from spotify_emulator.config import CatalogSpec
    from spotify_emulator.testing import build_catalog

    url = os.environ.get("OBJECT_STORE_URL", DEFAULT_OBJECT_STORE_URL)
    if "://" in url and not url.startswith("file://"):
        return 0
    folder = resolve_project_path(url.removeprefix("file://"))
    if (folder / "audio").exists():
        return 0
    catalog = build_catalog(CatalogSpec(seed=42))
    tracks = sorted(catalog.tracks.values(), key=lambda track: (-track.weight, track.id))
    objects = demo_library([track.id for track in tracks[:DEMO_AUDIO_TRACKS]])
    for key, data in objects.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(objects)
