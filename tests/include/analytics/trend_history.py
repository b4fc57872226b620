"""Four weeks of daily aggregates with planted trends (shared by the trend_detection job's and
DAG's tests): one artist rising on ``DAY``, one track new, one falling, the rest flat; two days
never aggregated (no data, not zero plays)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection

from spotify_agent.warehouse.schema import agg_artist_country, agg_tracks, aggregation_periods

DAY = date(2026, 10, 29)
DAYS = [DAY - timedelta(days=n) for n in range(28, -1, -1)]
# The aggregation never wrote these two: not zero plays, no data.
NOT_AGGREGATED = {DAY - timedelta(days=20), DAY - timedelta(days=21)}
FLAT, RISING = "0TrendArtistFlat00001", "0TrendArtistRise00001"
NEW, FALLING, SMALL = "0TrendTrackNew0000001", "0TrendTrackFall000001", "0TrendTrackSmall00001"


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _artist_rows(day: date) -> list[dict]:
    wobble = (day.toordinal() % 5) * 4  # small day-to-day noise
    rising = 600 if day == DAY else 100 + wobble
    return [
        # artist, country, plays, listeners
        {"artist_id": FLAT, "country": "SE", "plays": 200 + wobble, "listeners": 80},
        {"artist_id": FLAT, "country": "BR", "plays": 300, "listeners": 120},
        {"artist_id": RISING, "country": "SE", "plays": rising // 2, "listeners": 30},
        {"artist_id": RISING, "country": "ZZ", "plays": rising - rising // 2, "listeners": 25},
    ]


def _track_rows(day: date) -> list[dict]:
    wobble = (day.toordinal() % 3) * 5
    rows = [
        {"track_id": FALLING, "plays": 40 if day == DAY else 400 + wobble, "listeners": 35},
        {"track_id": SMALL, "plays": 5, "listeners": 5},
    ]
    if day == DAY:
        rows.append({"track_id": NEW, "plays": 300, "listeners": 240})
    return rows


def plant_aggregates(connection: Connection) -> None:
    now = datetime.now(UTC)
    common = {"ms_played": 0, "timed_plays": 0, "skips": 0}
    for day in DAYS:
        if day in NOT_AGGREGATED:
            continue
        start = midnight(day)
        key = {"kind": "day", "period_start": start}
        connection.execute(
            agg_artist_country.insert(),
            [{**key, **common, **row} for row in _artist_rows(day)],
        )
        connection.execute(agg_tracks.insert(), [{**key, **row} for row in _track_rows(day)])
        connection.execute(
            aggregation_periods.insert(),
            [
                {**key, "period_end": start + timedelta(days=1), "plays": 1, "rejected": {},
                 "run_id": "seed", "trace_id": "0" * 32, "computed_at": now}
            ],
        )  # fmt: skip
