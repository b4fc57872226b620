"""Listening with a known taste structure, for tests and the demo of the recommenders.

Listeners belong to *scenes*: each scene is a ring of tracks; a listener plays a run of
neighbouring tracks of their own scene (a third of it, some far more often than others) and,
rarely (3%), one of a few hits every scene plays. A recommender that learns anything should recommend a listener the unheard tracks of
their scene; one that learns only popularity recommends the hits. Deterministic for a seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

SOURCE = "synthetic:scenes"


def track_id(scene: int, index: int) -> str:
    """A 22-character Spotify-like id that names its scene (``S<scene>T<index>`` padded)."""
    return f"S{scene:02d}T{index:03d}".ljust(22, "0")


def hit_id(index: int) -> str:
    return f"HIT{index:02d}".ljust(22, "0")


def scene_of(track: str) -> int | None:
    return int(track[1:3]) if track.startswith("S") else None


def scene_listening(
    *,
    users: int = 300,
    scenes: int = 4,
    tracks_per_scene: int = 40,
    hits: int = 5,
    days: int = 60,
    end: datetime,
    plays_per_user: int = 30,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """``listening_events`` rows over the ``days`` before ``end``; user ``u`` is in scene
    ``u % scenes`` (ids ``scene<s>-user<u>``)."""
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days)
    rows: dict[tuple[str, datetime, str], dict[str, Any]] = {}
    for user in range(users):
        scene = user % scenes
        user_id = f"scene{scene}-user{user:04d}"
        # a run of neighbouring tracks (a sub-genre), so co-listening carries the taste
        first = int(rng.integers(tracks_per_scene))
        liked = (first + np.arange(tracks_per_scene // 3)) % tracks_per_scene
        taste = rng.dirichlet(np.ones(len(liked)))
        for _ in range(plays_per_user):
            if rng.random() < 0.03:
                track = hit_id(int(rng.integers(hits)))
            else:
                track = track_id(scene, int(liked[rng.choice(len(liked), p=taste)]))
            played_at = start + timedelta(seconds=int(rng.integers(days * 86_400)))
            rows[(user_id, played_at, track)] = {
                "user_id": user_id,
                "played_at": played_at,
                "track_id": track,
                "ms_played": int(rng.integers(30_000, 240_000)),
                "context_uri": None,
                "source": SOURCE,
                "run_id": "synthetic",
                "ingested_at": end,
            }
    return list(rows.values())
