"""Five weeks of synthetic listening for the demo, so its trends and report have a past.

A fresh demo warehouse holds an hour of the emulator's plays: trend detection needs 14 finished
days before the day it looks at, and a report with one day in it shows nothing. This writes
deterministic plays (``source = 'demo:synthetic'``) of the given catalogue's tracks (the demo
passes the bundled emulator's, so playlists built from plays hold tracks Spotify knows; else
40 made-up artists) into ``listening_events``, the tracks into ``catalogue_tracks`` and the
listeners' countries into ``listener_profiles``, then aggregates each day with the pipeline's
own functions (``extract``, ``aggregate_day``, ``replace_period``), as
``streaming_aggregation`` would.

The catalogue's last artist is planted: ten times its usual plays on the last three days, so
the demo shows what a trend looks like. Nothing here runs outside ``make demo``, and the demo
runs it only against the emulator, never against a real Spotify account.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from spotify_agent.analytics.synthetic import COUNTRIES, spotify_id
from spotify_agent.warehouse.schema import (
    aggregation_periods,
    catalogue_tracks,
    listener_profiles,
    listening_events,
)
from spotify_agent.warehouse.times import midnight_utc

SOURCE = "demo:synthetic"
LISTENERS = 600
PLAYS_PER_DAY = 3_000
RISING_DAYS = 3


class SeedTrack(NamedTuple):
    track_id: str
    artist_id: str
    artist_name: str
    name: str
    duration_ms: int


def made_up_catalogue(artists: int = 40, tracks_per_artist: int = 8) -> list[SeedTrack]:
    return [
        SeedTrack(
            spotify_id(7, a * tracks_per_artist + t),
            spotify_id(8, a),
            f"Demo Artist {a:02d}",
            f"Song {t + 1}",
            200_000,
        )
        for a in range(artists)
        for t in range(tracks_per_artist)
    ]


def seed_history(
    connection: Connection,
    *,
    last_day: date,
    days: int = 35,
    catalogue: Sequence[SeedTrack] | None = None,
) -> int:
    """Plays and finished-day aggregates for the ``days`` days up to ``last_day`` of
    ``catalogue``'s tracks (most played first), unless the warehouse already has a finished day
    among them; returns the days written."""
    first_day = last_day - timedelta(days=days - 1)
    written = connection.execute(
        select(func.count())
        .select_from(aggregation_periods)
        .where(
            aggregation_periods.c.kind == "day",
            aggregation_periods.c.period_start >= midnight_utc(first_day),
        )
    ).scalar_one()
    if written:
        return 0
    tracks = list(catalogue or made_up_catalogue())
    _seed_dimensions(connection, tracks)
    for n in range(days):
        day = first_day + timedelta(days=n)
        _seed_day(connection, day, tracks, rising=(last_day - day).days < RISING_DAYS)
    for n in range(days):
        _aggregate(connection, first_day + timedelta(days=n))
    return days


def rising_artist(catalogue: Sequence[SeedTrack] | None = None) -> str:
    """The planted artist: the catalogue's last."""
    return list(catalogue or made_up_catalogue())[-1].artist_name


def _seed_dimensions(connection: Connection, tracks: list[SeedTrack]) -> None:
    import numpy as np

    rng = np.random.default_rng(2026)
    now = datetime.now(UTC)
    known = set(connection.execute(select(catalogue_tracks.c.track_id)).scalars())
    new = [{**t._asdict(), "updated_at": now} for t in tracks if t.track_id not in known]
    if new:
        connection.execute(catalogue_tracks.insert(), new)
    weights = 1.0 / np.arange(1, len(COUNTRIES) + 1)
    countries = rng.choice(len(COUNTRIES), size=LISTENERS, p=weights / weights.sum())
    known_users = set(connection.execute(select(listener_profiles.c.user_id)).scalars())
    profiles = [
        {"user_id": f"demo-listener-{u:04d}", "country": COUNTRIES[countries[u]], "updated_at": now}
        for u in range(LISTENERS)
        if f"demo-listener-{u:04d}" not in known_users
    ]
    if profiles:
        connection.execute(listener_profiles.insert(), profiles)


def _seed_day(connection: Connection, day: date, tracks: list[SeedTrack], *, rising: bool) -> None:
    import numpy as np

    rng = np.random.default_rng(day.toordinal())
    lift = 1.2 if day.weekday() >= 5 else 1.0
    plays = int(rng.poisson(PLAYS_PER_DAY * lift))
    popularity = 1.0 / np.arange(1, len(tracks) + 1) ** 0.9
    track = rng.choice(len(tracks), size=plays, p=popularity / popularity.sum())
    if rising:  # the planted trend: the last artist's songs, ten times as often
        planted = tracks[-1].artist_id
        theirs = np.array([i for i, t in enumerate(tracks) if t.artist_id == planted])
        usual = int(plays * popularity[theirs].sum() / popularity.sum())
        track = np.concatenate([track, rng.choice(theirs, size=9 * max(usual, 20))])
    listener = rng.integers(0, LISTENERS, size=len(track))
    hour_weights = 1.5 + np.cos((np.arange(24) - 20) / 24 * 2 * np.pi)
    seconds = rng.choice(24, size=len(track), p=hour_weights / hour_weights.sum()) * 3600
    seconds = seconds + rng.integers(0, 3600, size=len(track))
    skip = rng.random(len(track)) < 0.2
    ms_played = np.where(skip, rng.integers(2_000, 30_000, len(track)), rng.integers(120_000, 300_000, len(track)))  # fmt: skip
    start = midnight_utc(day)
    now = datetime.now(UTC)
    rows = {}
    for t, u, s, ms in zip(track, listener, seconds, ms_played, strict=True):
        key = (f"demo-listener-{u:04d}", start + timedelta(seconds=int(s)), tracks[t].track_id)
        rows[key] = int(ms)
    connection.execute(
        listening_events.insert(),
        [
            {"user_id": user, "played_at": played_at, "track_id": track_id, "ms_played": ms,
             "context_uri": None, "source": SOURCE, "run_id": SOURCE, "ingested_at": now}
            for (user, played_at, track_id), ms in rows.items()
        ],
    )  # fmt: skip


def _aggregate(connection: Connection, day: date) -> None:
    from spotify_agent.analytics.store import Period, aggregate_extract, extract, replace_period

    period = Period("day", midnight_utc(day), midnight_utc(day + timedelta(days=1)))
    with tempfile.TemporaryDirectory(prefix="demo-extract-") as folder:
        data = extract(connection, period, Path(folder))
        now = datetime.now(UTC)
        result = aggregate_extract(data, period, now=now)
    replace_period(connection, period, result, run_id=SOURCE, trace_id="0" * 32, at=now)
