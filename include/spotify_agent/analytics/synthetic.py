"""Deterministic synthetic listening data at any scale, for the benchmark, the tests and the demo.

Shapes follow real listening: a few listeners play most (Zipf-like activity), a few tracks get
most plays (Zipf popularity), plays cluster in the evening, about one in five is a skip, and
some plays carry no duration (the recently-played API gives none). The same arguments give the
same files, byte for byte.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from spotify_agent.analytics.aggregation import ListeningData

# 60 markets, most common first (listeners are spread over them with a Zipf-like skew).
COUNTRIES = (
    "US GB DE BR MX FR ES IT CA AU NL SE PL AR CO CL TR JP ID PH IN NO DK FI BE AT CH IE PT NZ "
    "ZA NG EG MA SA AE IL GR CZ HU RO BG HR SK SI RS UA TH VN MY SG KR TW HK PE EC UY PY BO CR"
).split()
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def spotify_id(kind: int, index: int) -> str:
    """A 22-character base62 id, unique per (kind, index), like Spotify's."""
    value = (kind << 64) | (index * 0x9E3779B97F4A7C15 % (1 << 64))
    chars = []
    for _ in range(22):
        value, digit = divmod(value, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def write_listening_day(
    folder: Path,
    *,
    day: datetime,
    events: int,
    users: int,
    tracks: int,
    artists: int,
    seed: int = 7,
) -> ListeningData:
    """Write ``events.parquet``, ``tracks.parquet`` and ``listeners.parquet`` for one UTC day."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = ListeningData.in_folder(folder)

    track_ids = np.array([spotify_id(1, i) for i in range(tracks)], dtype=object)
    artist_ids = np.array([spotify_id(2, i) for i in range(artists)], dtype=object)
    track_artist = rng.integers(0, artists, size=tracks)
    user_ids = np.array([f"u{i:08d}" for i in range(users)], dtype=object)

    user_of_play = _zipf_choice(rng, users, events, exponent=0.8)
    track_of_play = _zipf_choice(rng, tracks, events, exponent=1.0)
    # Plays through the day, more in the evening (a raised cosine peaking at 20:00 UTC).
    hours = np.arange(24)
    hour_weights = 1.5 + np.cos((hours - 20) / 24 * 2 * np.pi)
    hour = rng.choice(24, size=events, p=hour_weights / hour_weights.sum())
    micros = hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, size=events)
    start_us = int(day.timestamp() * 1_000_000)
    played_at = pa.array(start_us + micros, type=pa.timestamp("us", tz="UTC"))
    skip = rng.random(events) < 0.2
    ms_played = np.where(
        skip, rng.integers(1_000, 30_000, size=events), rng.integers(120_000, 330_000, size=events)
    )
    timed = rng.random(events) >= 0.05

    pq.write_table(
        pa.table(
            {
                "user_id": pa.array(user_ids[user_of_play], type=pa.string()),
                "played_at": played_at,
                "track_id": pa.array(track_ids[track_of_play], type=pa.string()),
                "ms_played": pa.array(ms_played, type=pa.int32(), mask=~timed),
            }
        ),
        data.events,
    )
    pq.write_table(
        pa.table(
            {
                "track_id": pa.array(track_ids, type=pa.string()),
                "artist_id": pa.array(artist_ids[track_artist], type=pa.string()),
            }
        ),
        data.tracks,
    )
    country = _zipf_choice(rng, len(COUNTRIES), users, exponent=1.0)
    known = rng.random(users) >= 0.01  # a few listeners never told us their country
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array(user_ids[known], type=pa.string()),
                "country": pa.array(np.array(COUNTRIES)[country][known], type=pa.string()),
            }
        ),
        data.listeners,
    )
    return data


def day_bounds(day: datetime) -> tuple[datetime, datetime]:
    return day, day + timedelta(days=1)


def _zipf_choice(rng: Any, n: int, size: int, *, exponent: float) -> Any:
    import numpy as np

    weights = 1.0 / np.arange(1, n + 1) ** exponent
    cumulative = np.cumsum(weights)
    picks = np.searchsorted(cumulative, rng.random(size) * cumulative[-1])
    # Shuffle which index is popular, so popularity does not follow id order.
    return rng.permutation(n)[np.minimum(picks, n - 1)]
