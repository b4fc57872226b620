"""Warehouse side of trend detection: the daily series it reads, the trend rows it replaces.

Series come from the finished days' aggregates (``kind = 'day'``): artists from
``agg_artist_country`` summed over countries (a listener has one country, so the sum of the
countries' unique listeners is the artist's), tracks from ``agg_tracks``. Only entities that
reach ``min_plays`` on some day of the window are read: no other can trend, and a day holds
hundreds of thousands of tracks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, delete, func, select

from spotify_agent.analytics.trends import (
    DailyPlays,
    EntityType,
    Trend,
    TrendRules,
    baseline_window,
    describe_trend,
)
from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_tracks,
    aggregation_periods,
    catalogue_tracks,
    listening_trends,
)
from spotify_agent.warehouse.times import midnight_utc, stored_utc


def aggregated_days(connection: Connection, first: date, last: date) -> list[date]:
    """The finished days in ``[first, last]`` that the aggregation wrote."""
    query = select(aggregation_periods.c.period_start).where(
        aggregation_periods.c.kind == "day",
        aggregation_periods.c.period_start >= midnight_utc(first),
        aggregation_periods.c.period_start <= midnight_utc(last),
    )
    return sorted(stored_utc(start).date() for (start,) in connection.execute(query))


def daily_plays(
    connection: Connection, entity_type: EntityType, day: date, rules: TrendRules
) -> Iterator[DailyPlays]:
    """Every day of ``day``'s window with plays, per artist or per candidate track."""
    first, last = baseline_window(day, rules)
    start, end = midnight_utc(first), midnight_utc(last)
    if entity_type == "artist":
        table = agg_artist_country
        per_day = (
            select(
                table.c.artist_id.label("entity_id"),
                table.c.period_start,
                func.sum(table.c.plays).label("plays"),
                func.sum(table.c.listeners).label("listeners"),
            )
            .where(table.c.kind == "day", table.c.period_start.between(start, end))
            .group_by(table.c.artist_id, table.c.period_start)
            .subquery()
        )
    else:
        table = agg_tracks
        per_day = (
            select(
                table.c.track_id.label("entity_id"),
                table.c.period_start,
                table.c.plays,
                table.c.listeners,
            )
            .where(table.c.kind == "day", table.c.period_start.between(start, end))
            .subquery()
        )
    # Only an entity that reaches min_plays on some day can trend (rising and new need it
    # today, falling in the median).
    candidates = (
        select(per_day.c.entity_id)
        .group_by(per_day.c.entity_id)
        .having(func.max(per_day.c.plays) >= rules.min_plays)
    )
    query = select(
        per_day.c.entity_id, per_day.c.period_start, per_day.c.plays, per_day.c.listeners
    ).where(per_day.c.entity_id.in_(candidates))
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


@dataclass(frozen=True)
class StoredTrend:
    """A ``listening_trends`` row with the entity's name, as the report and the digest show it."""

    day: date
    entity_type: str
    entity_id: str
    name: str
    kind: str
    plays: int
    baseline_median: float
    baseline_level: float
    robust_z: float
    ratio: float | None
    last_7d_plays: int
    wow_growth: float | None
    wow_z: float | None
    score: float
    significant: bool

    def sentence(self) -> tuple[str, dict[str, int | float | str]]:
        return describe_trend(
            self.name,
            self.kind,
            day=self.day,
            plays=self.plays,
            level=self.baseline_level,
            ratio=self.ratio,
            robust_z=self.robust_z,
            wow_z=self.wow_z,
            wow_growth=self.wow_growth,
            last_7d=self.last_7d_plays,
        )


def stored_trends(
    connection: Connection,
    *,
    start: date,
    end: date,
    entity_type: EntityType | None = None,
    significant_only: bool = False,
    limit: int | None = None,
) -> list[StoredTrend]:
    """The trends of the days in ``[start, end)``, strongest first, named from the catalogue
    (the id when it has none)."""
    table = listening_trends
    query = select(table).where(table.c.day >= start, table.c.day < end)
    if entity_type is not None:
        query = query.where(table.c.entity_type == entity_type)
    if significant_only:
        query = query.where(table.c.significant.is_(True))
    query = query.order_by(table.c.score.desc(), table.c.day, table.c.entity_id).limit(limit)
    rows = list(connection.execute(query).mappings())
    names = {
        kind: entity_names(
            connection, kind, [r["entity_id"] for r in rows if r["entity_type"] == kind]
        )
        for kind in ("artist", "track")
    }
    fields = [f.name for f in dataclasses.fields(StoredTrend) if f.name != "name"]
    return [
        StoredTrend(
            name=names[row["entity_type"]].get(row["entity_id"], row["entity_id"]),
            **{name: row[name] for name in fields},
        )
        for row in rows
    ]


def entity_names(connection: Connection, entity_type: str, ids: list[str]) -> dict[str, str]:
    """Artist names, or "<track> by <artist>", from ``catalogue_tracks``."""
    if not ids:
        return {}
    table = catalogue_tracks
    if entity_type == "artist":
        query = (
            select(table.c.artist_id, func.max(table.c.artist_name))
            .where(table.c.artist_id.in_(ids))
            .group_by(table.c.artist_id)
        )
        return {str(row[0]): str(row[1]) for row in connection.execute(query)}
    query = select(table.c.track_id, table.c.name, table.c.artist_name).where(
        table.c.track_id.in_(ids)
    )
    return {str(row[0]): f"{row[1]} by {row[2]}" for row in connection.execute(query)}
