"""What the daily and weekly reports state, read from the finished days' aggregates.

Only ``kind = 'day'`` rows are read: a report never mixes in today's partial. Every figure is a
sum of exact daily figures, except listeners: those are counted as distinct listeners over the
period's ``agg_listeners`` rows, so a week's listeners are people, not listener-days (listeners
being erased are no longer in that table, and so not counted).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, func, select

from spotify_agent.analytics.trend_store import StoredTrend, entity_names, stored_trends
from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_hours,
    agg_listeners,
    agg_tracks,
    aggregation_periods,
    quarantine,
)
from spotify_agent.warehouse.times import midnight_utc, stored_utc

ReportKind = Literal["daily", "weekly"]
TOP = 10
# Rows in the CSV extracts of top artists and tracks.
EXTRACT_TOP = 100
# Trends a report reads (and lists in movers.csv), strongest first.
MOVERS = 500


@dataclass(frozen=True)
class ReportPeriod:
    kind: ReportKind
    start: date  # first day
    end: date  # the day after the last

    @classmethod
    def daily(cls, day: date) -> ReportPeriod:
        return cls("daily", day, day + timedelta(days=1))

    @classmethod
    def weekly(cls, day: date) -> ReportPeriod:
        """The ISO week (Monday to Sunday) holding ``day``."""
        monday = day - timedelta(days=day.weekday())
        return cls("weekly", monday, monday + timedelta(days=7))

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return self.start.isoformat()
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def key_prefix(self) -> str:
        """Where the report and its extracts live in the object store."""
        return f"reports/{self.kind}/{self.label}"

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    def previous(self) -> ReportPeriod:
        length = self.end - self.start
        return ReportPeriod(self.kind, self.start - length, self.start)

    def chart_window(self) -> ReportPeriod:
        """The days the over-time charts show: four weeks for a day, eight for a week."""
        weeks = 4 if self.kind == "daily" else 8
        return ReportPeriod(self.kind, self.end - timedelta(weeks=weeks), self.end)


@dataclass(frozen=True)
class Totals:
    plays: int = 0
    listeners: int = 0
    ms_played: int = 0
    timed_plays: int = 0
    skips: int = 0

    @property
    def skip_rate(self) -> float | None:
        return self.skips / self.timed_plays if self.timed_plays else None

    @property
    def hours_played(self) -> float:
        return self.ms_played / 3_600_000


@dataclass(frozen=True)
class DayFigures:
    day: date
    aggregated: bool
    plays: int = 0
    listeners: int = 0
    ms_played: int = 0
    skip_rate: float | None = None
    rejected: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0


@dataclass(frozen=True)
class Ranked:
    """An artist, track or country with its share of the period's plays."""

    key: str
    name: str
    plays: int
    share: float
    skip_rate: float | None = None
    listeners: int | None = None


@dataclass(frozen=True)
class ReportFacts:
    period: ReportPeriod
    totals: Totals
    previous: Totals
    days: list[DayFigures]  # the chart window, oldest first
    artists: list[Ranked]
    tracks: list[Ranked]
    countries: list[Ranked]
    hours: list[int]  # plays per UTC hour 0-23
    movers: list[StoredTrend]  # strongest first
    as_of: datetime | None  # when the newest aggregate in the period was computed

    @property
    def missing_days(self) -> list[date]:
        return [d.day for d in self.days if not d.aggregated and self.period.start <= d.day]

    @property
    def rejected(self) -> dict[str, int]:
        """Plays set aside in the period, per reason."""
        reasons: dict[str, int] = defaultdict(int)
        for figures in self.days:
            if self.period.start <= figures.day:
                for reason, plays in figures.rejected.items():
                    reasons[reason] += plays
        return dict(sorted(reasons.items()))

    @property
    def quarantined(self) -> int:
        return sum(d.quarantined for d in self.days if self.period.start <= d.day)


def report_facts(connection: Connection, period: ReportPeriod) -> ReportFacts:
    window = period.chart_window()
    days = _days(connection, window)
    totals = _totals(connection, period)
    plays = totals.plays
    return ReportFacts(
        period=period,
        totals=totals,
        previous=_totals(connection, period.previous()),
        days=days,
        artists=_artists(connection, period, plays, EXTRACT_TOP),
        tracks=_tracks(connection, period, plays, EXTRACT_TOP),
        countries=_countries(connection, period, plays),
        hours=_hours(connection, period),
        movers=stored_trends(connection, start=period.start, end=period.end, limit=MOVERS),
        as_of=_as_of(connection, period),
    )


def _in(table: Any, period: ReportPeriod) -> Any:
    return and_(
        table.c.kind == "day",
        table.c.period_start >= midnight_utc(period.start),
        table.c.period_start < midnight_utc(period.end),
    )


def _totals(connection: Connection, period: ReportPeriod) -> Totals:
    table = agg_artist_country
    plays, ms_played, timed, skips = connection.execute(
        select(
            func.coalesce(func.sum(table.c.plays), 0),
            func.coalesce(func.sum(table.c.ms_played), 0),
            func.coalesce(func.sum(table.c.timed_plays), 0),
            func.coalesce(func.sum(table.c.skips), 0),
        ).where(_in(table, period))
    ).one()
    listeners = connection.execute(
        select(func.count(func.distinct(agg_listeners.c.user_id))).where(_in(agg_listeners, period))
    ).scalar_one()
    return Totals(int(plays), int(listeners), int(ms_played), int(timed), int(skips))


def _days(connection: Connection, window: ReportPeriod) -> list[DayFigures]:
    periods = {
        stored_utc(start).date(): rejected
        for start, rejected in connection.execute(
            select(aggregation_periods.c.period_start, aggregation_periods.c.rejected).where(
                _in(aggregation_periods, window)
            )
        )
    }
    table = agg_artist_country
    sums = {
        stored_utc(start).date(): (int(plays), int(ms), int(timed), int(skips))
        for start, plays, ms, timed, skips in connection.execute(
            select(
                table.c.period_start,
                func.sum(table.c.plays),
                func.sum(table.c.ms_played),
                func.sum(table.c.timed_plays),
                func.sum(table.c.skips),
            )
            .where(_in(table, window))
            .group_by(table.c.period_start)
        )
    }
    listeners = {
        stored_utc(start).date(): int(count)
        for start, count in connection.execute(
            select(agg_listeners.c.period_start, func.count())
            .where(_in(agg_listeners, window))
            .group_by(agg_listeners.c.period_start)
        )
    }
    sources = {f"streaming_aggregation:{day.isoformat()}": day for day in window.days}
    quarantined = {
        sources[source]: int(count)
        for source, count in connection.execute(
            select(quarantine.c.source, func.count())
            .where(quarantine.c.source.in_(list(sources)))
            .group_by(quarantine.c.source)
        )
    }
    figures = []
    for day in window.days:
        plays, ms, timed, skips = sums.get(day, (0, 0, 0, 0))
        figures.append(
            DayFigures(
                day=day,
                aggregated=day in periods,
                plays=plays,
                listeners=listeners.get(day, 0),
                ms_played=ms,
                skip_rate=skips / timed if timed else None,
                rejected={k: int(v) for k, v in (periods.get(day) or {}).items() if v},
                quarantined=quarantined.get(day, 0),
            )
        )
    return figures


def _share(plays: int, total: int) -> float:
    return plays / total if total else 0.0


def _most_played(
    connection: Connection,
    period: ReportPeriod,
    key: Any,
    *,
    with_skips: bool = False,
    n: int | None = None,
) -> list[Any]:
    """``(key, plays)`` rows, with ``timed_plays, skips`` after them if asked, per value of the
    column ``key`` over the period: the most played first, ties by the key, at most ``n``."""
    table = key.table
    plays = func.sum(table.c.plays).label("plays")
    skips = [func.sum(table.c.timed_plays), func.sum(table.c.skips)] if with_skips else []
    query = (
        select(key, plays, *skips)
        .where(_in(table, period))
        .group_by(key)
        .order_by(plays.desc(), key)
    )
    return list(connection.execute(query if n is None else query.limit(n)).all())


def _skip_rate(timed: Any, skips: Any) -> float | None:
    return int(skips) / int(timed) if timed else None


def _artists(connection: Connection, period: ReportPeriod, total: int, n: int) -> list[Ranked]:
    rows = _most_played(connection, period, agg_artist_country.c.artist_id, with_skips=True, n=n)
    names = entity_names(connection, "artist", [row[0] for row in rows])
    return [
        Ranked(
            key=artist_id,
            name=names.get(artist_id, artist_id),
            plays=int(count),
            share=_share(int(count), total),
            skip_rate=_skip_rate(timed, skips),
        )
        for artist_id, count, timed, skips in rows
    ]


def _tracks(connection: Connection, period: ReportPeriod, total: int, n: int) -> list[Ranked]:
    rows = _most_played(connection, period, agg_tracks.c.track_id, n=n)
    names = entity_names(connection, "track", [row[0] for row in rows])
    return [
        Ranked(key=t, name=names.get(t, t), plays=int(count), share=_share(int(count), total))
        for t, count in rows
    ]


def _countries(connection: Connection, period: ReportPeriod, total: int) -> list[Ranked]:
    rows = _most_played(connection, period, agg_artist_country.c.country, with_skips=True)
    return [
        Ranked(
            key=country,
            name="unknown" if country == "ZZ" else country,
            plays=int(count),
            share=_share(int(count), total),
            skip_rate=_skip_rate(timed, skips),
        )
        for country, count, timed, skips in rows
    ]


def _hours(connection: Connection, period: ReportPeriod) -> list[int]:
    hours = [0] * 24
    for hour, plays in connection.execute(
        select(agg_hours.c.hour, func.sum(agg_hours.c.plays))
        .where(_in(agg_hours, period))
        .group_by(agg_hours.c.hour)
    ):
        hours[int(hour)] = int(plays)
    return hours


def _as_of(connection: Connection, period: ReportPeriod) -> datetime | None:
    latest = connection.execute(
        select(func.max(aggregation_periods.c.computed_at)).where(_in(aggregation_periods, period))
    ).scalar()
    return None if latest is None else stored_utc(latest)
