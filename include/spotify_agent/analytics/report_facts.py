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
from spotify_agent.analytics.trends import TrendRules
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
# The days before a mover's day in which its history is counted: trend detection's baseline.
HISTORY_DAYS = TrendRules().baseline_days


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
    timed_plays: int = 0
    skips: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0

    @property
    def skip_rate(self) -> float | None:
        return self.skips / self.timed_plays if self.timed_plays else None


@dataclass(frozen=True)
class Figures:
    """What a period is judged by (the figures the report's first screen shows). A baseline's
    are averages over its aggregated days, so they may have fractions."""

    plays: float
    listeners: float
    hours_played: float
    skip_rate: float | None
    set_aside: float  # plays the aggregation set aside (data quality)


@dataclass(frozen=True)
class Baseline:
    """What the period is compared with: the previous day and the same weekday a week before
    and the trailing 7-day average (a daily report), or the previous week (a weekly one)."""

    name: str  # "previous day", "same day last week", "7-day average", "previous week"
    detail: str  # the days it covers: "Sat 21 Nov", "15 Nov-21 Nov (6 of 7 days aggregated)"
    figures: Figures | None  # None: none of its days was aggregated
    first: date  # its first day
    last: date  # its last day
    aggregated_days: int  # of its days, those aggregated (the others are left out)


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
    # Per mover (entity type, id, day): the days among the 28 before its day on which the
    # entity has aggregates; the report shows a trend only with enough of them.
    history_days: dict[tuple[str, str, date], int] = field(default_factory=dict)
    baselines: list[Baseline] = field(default_factory=list)

    @property
    def aggregated(self) -> bool:
        """Whether any day of the period was aggregated (else there is nothing to compare)."""
        return any(d.aggregated for d in self.days if self.period.start <= d.day)

    @property
    def figures(self) -> Figures:
        now = self.totals
        return Figures(now.plays, now.listeners, now.hours_played, now.skip_rate,
                       sum(self.rejected.values()))  # fmt: skip

    def history_of(self, mover: StoredTrend) -> int:
        return self.history_days.get((mover.entity_type, mover.entity_id, mover.day), 0)

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
    previous = _totals(connection, period.previous())
    plays = totals.plays
    movers = stored_trends(connection, start=period.start, end=period.end, limit=MOVERS)
    return ReportFacts(
        period=period,
        totals=totals,
        previous=previous,
        days=days,
        artists=_artists(connection, period, plays, EXTRACT_TOP),
        tracks=_tracks(connection, period, plays, EXTRACT_TOP),
        countries=_countries(connection, period, plays),
        hours=_hours(connection, period),
        movers=movers,
        as_of=_as_of(connection, period),
        history_days=history_days(connection, movers),
        baselines=baselines(period, days, previous),
    )


def baselines(period: ReportPeriod, days: list[DayFigures], previous: Totals) -> list[Baseline]:
    """A day against the day before, the same weekday a week before and the mean of the 7 days
    before it; a week against the week before (its listeners distinct over that week)."""
    by_day = {d.day: d for d in days}
    if period.kind == "weekly":
        before = period.previous()
        week = [by_day[d] for d in before.days if d in by_day and by_day[d].aggregated]
        set_aside = sum(sum(d.rejected.values()) for d in week)
        figures = Figures(previous.plays, previous.listeners, previous.hours_played,
                          previous.skip_rate, set_aside)  # fmt: skip
        return [Baseline("previous week", before.label, figures if week else None,
                         before.start, before.days[-1], len(week))]  # fmt: skip
    day = period.start

    def baseline(name: str, detail: str, first: int, last: int) -> Baseline:
        """The mean of the days ``first`` to ``last`` days before ``day``."""
        covered = [
            by_day.get(day - timedelta(days=n)) or DayFigures(day - timedelta(days=n), False)
            for n in range(first, last - 1, -1)
        ]
        aggregated = sum(1 for d in covered if d.aggregated)
        if len(covered) > 1 and aggregated < len(covered):
            detail += f" ({aggregated} of {len(covered)} days aggregated)"
        return Baseline(name, detail, _mean(covered), covered[0].day, covered[-1].day, aggregated)

    def short(n: int) -> str:
        return f"{day - timedelta(days=n):%a %d %b}"

    week_ago, yesterday = day - timedelta(days=7), day - timedelta(days=1)
    return [
        baseline("previous day", short(1), 1, 1),
        baseline("same day last week", short(7), 7, 7),
        baseline("7-day average", f"{week_ago:%d %b}-{yesterday:%d %b}", 7, 1),
    ]


def _mean(days: list[DayFigures]) -> Figures | None:
    """The mean day of the aggregated ones among ``days`` (skip rate: over all their timed
    plays); None when none was aggregated."""
    counted = [d for d in days if d.aggregated]
    if not counted:
        return None
    n = len(counted)
    timed = sum(d.timed_plays for d in counted)
    return Figures(
        plays=sum(d.plays for d in counted) / n,
        listeners=sum(d.listeners for d in counted) / n,
        hours_played=sum(d.ms_played for d in counted) / 3_600_000 / n,
        skip_rate=sum(d.skips for d in counted) / timed if timed else None,
        set_aside=sum(sum(d.rejected.values()) for d in counted) / n,
    )


def history_days(
    connection: Connection, movers: list[StoredTrend], *, days: int = HISTORY_DAYS
) -> dict[tuple[str, str, date], int]:
    """For each mover, the days among the ``days`` before its day with aggregates of its
    artist or track (a day the entity was played on that the aggregation wrote)."""
    found: dict[tuple[str, str, date], int] = {}
    for entity_type, table, column in (
        ("artist", agg_artist_country, agg_artist_country.c.artist_id),
        ("track", agg_tracks, agg_tracks.c.track_id),
    ):
        mine = [m for m in movers if m.entity_type == entity_type]
        if not mine:
            continue
        first = min(m.day for m in mine) - timedelta(days=days)
        last = max(m.day for m in mine)
        query = (
            select(column, table.c.period_start)
            .where(
                table.c.kind == "day",
                column.in_(sorted({m.entity_id for m in mine})),
                table.c.period_start >= midnight_utc(first),
                table.c.period_start < midnight_utc(last),
            )
            .distinct()
        )
        played: dict[str, set[date]] = defaultdict(set)
        for entity_id, start in connection.execute(query):
            played[str(entity_id)].add(stored_utc(start).date())
        for m in mine:
            since = m.day - timedelta(days=days)
            found[(entity_type, m.entity_id, m.day)] = sum(
                1 for d in played[m.entity_id] if since <= d < m.day
            )
    return found


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
                timed_plays=timed,
                skips=skips,
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
