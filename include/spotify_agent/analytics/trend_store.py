"""Warehouse side of trend detection: the daily series it reads, the trend rows it replaces.

Series come from the finished days' aggregates (``kind = 'day'``): artists from
``agg_artist_country`` summed over countries (a listener has one country, so the sum of the
countries' unique listeners is the artist's), tracks from ``agg_tracks``. Only tracks that reach
``min_plays`` on some day of the window are read: no other track can trend, and a day holds
hundreds of thousands of tracks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from spotify_agent.analytics.trends import (
    DailyPlays,
    EntityType,
    Trend,
    TrendRules,
    baseline_window,
)
from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_tracks,
    aggregation_periods,
    listening_trends,
)
from spotify_agent.warehouse.times import stored_utc


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def aggregated_days(connection: Connection, first: date, last: date) -> list[date]:
    """The finished days in ``[first, last]`` that the aggregation wrote."""
    query = select(aggregation_periods.c.period_start).where(
        aggregation_periods.c.kind == "day",
        aggregation_periods.c.period_start >= midnight(first),
        aggregation_periods.c.period_start <= midnight(last),
    )
    return sorted(stored_utc(start).date() for (start,) in connection.execute(query))


def latest_aggregated_day(connection: Connection) -> date | None:
    query = select(func.max(aggregation_periods.c.period_start)).where(
        aggregation_periods.c.kind == "day"
    )
    latest = connection.execute(query).scalar()
    return None if latest is None else stored_utc(latest).date()


def daily_plays(
    connection: Connection, entity_type: EntityType, day: date, rules: TrendRules
) -> Iterator[DailyPlays]:
    """Every day of ``day``'s window with plays, per artist or per candidate track."""
    first, last = baseline_window(day, rules)
    start, end = midnight(first), midnight(last)
    if entity_type == "artist":
        table = agg_artist_country
        query = (
            select(
                table.c.artist_id,
                table.c.period_start,
                func.sum(table.c.plays),
                func.sum(table.c.listeners),
            )
            .where(table.c.kind == "day", table.c.period_start.between(start, end))
            .group_by(table.c.artist_id, table.c.period_start)
        )
    else:
        table = agg_tracks
        in_window = (table.c.kind == "day") & table.c.period_start.between(start, end)
        candidates = (
            select(table.c.track_id)
            .where(in_window)
            .group_by(table.c.track_id)
            .having(func.max(table.c.plays) >= rules.min_plays)
        )
        query = select(
            table.c.track_id, table.c.period_start, table.c.plays, table.c.listeners
        ).where(in_window, table.c.track_id.in_(candidates))
    for entity_id, period_start, plays, listeners in connection.execute(query):
        yield DailyPlays(entity_id, stored_utc(period_start).date(), int(plays), int(listeners))


def replace_trends(
    connection: Connection,
    day: date,
    trends: Iterable[Trend],
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> int:
    """Replace ``day``'s trend rows (a re-run writes the same rows); returns rows written."""
    connection.execute(delete(listening_trends).where(listening_trends.c.day == day))
    rows = [
        {**vars(trend), "day": day, "run_id": run_id, "trace_id": trace_id, "detected_at": at}
        for trend in trends
    ]
    if rows:
        connection.execute(listening_trends.insert(), rows)
    return len(rows)


def trends_between(connection: Connection, first: date, last: date) -> list[dict[str, Any]]:
    """The trend rows of the days in ``[first, last]``, strongest first within each day."""
    query = (
        select(listening_trends)
        .where(listening_trends.c.day.between(first, last))
        .order_by(
            listening_trends.c.day,
            func.abs(listening_trends.c.robust_z).desc(),
            listening_trends.c.entity_id,
        )
    )
    return [dict(row) for row in connection.execute(query).mappings()]
