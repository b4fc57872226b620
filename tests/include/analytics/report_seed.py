"""Five weeks of finished-day aggregates with known figures, for the report's tests.

Artists and countries play fixed amounts each day (so every total is known by arithmetic), one
day was never aggregated, a few plays were set aside, and one artist is a planted mover.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection

from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_hours,
    agg_listeners,
    agg_tracks,
    aggregation_periods,
    catalogue_tracks,
    listening_trends,
    quarantine,
)

LAST_DAY = date(2026, 11, 22)  # a Sunday: the end of ISO week 2026-W47
FIRST_DAY = LAST_DAY - timedelta(days=41)  # six weeks, so the previous week is there too
MISSING_DAY = date(2026, 11, 18)  # never aggregated
ARTISTS = {"0ReportArtistAurora001": "Aurora", "0ReportArtistBlueHour1": "Blue Hour"}
TRACKS = {"0ReportTrackDawn000001": ("Dawn", "0ReportArtistAurora001"),
          "0ReportTrackNight00001": ("Night", "0ReportArtistBlueHour1")}  # fmt: skip
# plays a day per (artist, country); Blue Hour doubles from W47's Monday on.
PLAYS = {("0ReportArtistAurora001", "SE"): 300, ("0ReportArtistAurora001", "BR"): 100,
         ("0ReportArtistBlueHour1", "SE"): 50, ("0ReportArtistBlueHour1", "ZZ"): 50}  # fmt: skip
W47 = date(2026, 11, 16)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def plays_on(day: date, artist: str, country: str) -> int:
    base = PLAYS[(artist, country)]
    return base * 2 if artist == "0ReportArtistBlueHour1" and day >= W47 else base


def listeners_on(day: date) -> list[str]:
    """30 regulars every day, plus 10 of a rotating set of 40 (distinct counts differ by period)."""
    rotating = day.toordinal() % 4
    return [f"regular-{i}" for i in range(30)] + [f"guest-{rotating}-{i}" for i in range(10)]


def seed_report_history(connection: Connection) -> None:
    now = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)
    connection.execute(
        catalogue_tracks.insert(),
        [{"track_id": t, "artist_id": a, "artist_name": ARTISTS[a], "name": name,
          "duration_ms": 200_000, "updated_at": now} for t, (name, a) in TRACKS.items()],
    )  # fmt: skip
    day = FIRST_DAY
    while day <= LAST_DAY:
        if day != MISSING_DAY:
            _seed_day(connection, day, now)
        day += timedelta(days=1)
    connection.execute(
        listening_trends.insert(),
        [{"day": W47, "entity_type": "artist", "entity_id": "0ReportArtistBlueHour1",
          "kind": "rising", "plays": 200, "listeners": 40, "baseline_median": 100.0,
          "baseline_mad": 0.0, "baseline_days": 28, "baseline_level": 100.0, "robust_z": 7.0711,
          "ratio": 2.0, "last_7d_plays": 1_100, "prev_7d_plays": 700, "wow_growth": 0.5714,
          "wow_z": 7.4, "score": 7.4, "significant": False, "run_id": "seed", "trace_id": "0" * 32, "detected_at": now}],
    )  # fmt: skip


def _seed_day(connection: Connection, day: date, now: datetime) -> None:
    key = {"kind": "day", "period_start": midnight(day)}
    rows = []
    for (artist, country), _ in PLAYS.items():
        plays = plays_on(day, artist, country)
        # Every play timed; one in ten a skip.
        rows.append({**key, "artist_id": artist, "country": country, "plays": plays,
                     "listeners": 10, "ms_played": plays * 120_000, "timed_plays": plays,
                     "skips": plays // 10})  # fmt: skip
    connection.execute(agg_artist_country.insert(), rows)
    per_artist = {a: sum(plays_on(day, a, c) for (x, c) in PLAYS if x == a) for a in ARTISTS}
    connection.execute(
        agg_tracks.insert(),
        [{**key, "track_id": t, "plays": per_artist[a], "listeners": 20}
         for t, (_, a) in TRACKS.items()],
    )  # fmt: skip
    connection.execute(
        agg_listeners.insert(),
        [{**key, "user_id": u, "plays": 1, "ms_played": 1, "sessions": 1} for u in listeners_on(day)],
    )  # fmt: skip
    total = sum(per_artist.values())
    connection.execute(
        agg_hours.insert(), [{**key, "hour": 20, "plays": total - 100}, {**key, "hour": 8, "plays": 100}]
    )  # fmt: skip
    rejected = {"unknown_track": 3, "negative_duration": 1} if day == W47 else {}
    connection.execute(
        aggregation_periods.insert(),
        [{**key, "period_end": midnight(day + timedelta(days=1)), "plays": total,
          "rejected": rejected, "run_id": "seed", "trace_id": "0" * 32, "computed_at": now}],
    )  # fmt: skip
    if rejected:
        connection.execute(
            quarantine.insert(),
            [{"source": f"streaming_aggregation:{day.isoformat()}", "payload_sha256": f"{i:064x}",
              "payload_encoding": "json", "payload": "{}", "reason": "unknown_track",
              "field": "track_id", "run_id": "seed", "dag_id": "streaming_aggregation",
              "task_id": "aggregate", "trace_id": "0" * 32, "quarantined_at": now}
             for i in range(4)],
        )  # fmt: skip
