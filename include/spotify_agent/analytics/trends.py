"""Rising, falling and new artists and tracks: a day's plays against their trailing baseline.

Pure functions over daily play counts; the warehouse side is in ``trend_store``.

For each entity (an artist or a track) and target day:

* **Baseline**: the entity's plays on each *aggregated* day of the trailing
  :attr:`TrendRules.baseline_days` (a day the aggregation never wrote is left out, not taken as
  zero plays; a day it wrote without the entity is zero).
* **Usual level**: the baseline's median; for an entity played on fewer than half the days
  (median 0), its mean. A day is judged against the higher (rising) or the lower (falling) of
  that level and the median of the *same weekday* in the baseline, so a weekly rhythm (an
  artist people play on Saturdays) is never a trend.
* **Robust score**: ``z = (plays - level) / scale`` with ``scale = max(spread, sqrt(max(level,
  plays, 1)))``. The spread is 1.4826 * MAD (a standard deviation not moved by the spikes we
  look for), or the plain standard deviation when the MAD is 0 (a sparse series); the square
  root is Poisson noise at the larger rate, the least a count of independent plays varies, so a
  series that happened to be flat does not turn every wobble into a trend.
* **Rising**: ``z >= z_threshold``, ``plays >= min_ratio * level`` and ``plays >= min_plays``.
  **Falling**: ``z <= -z_threshold``, ``plays <= level / min_ratio`` and a median of at least
  ``min_plays`` (support is judged where the plays were). **New**: no play on any baseline day,
  ``plays >= min_plays`` today. All need ``min_history_days`` aggregated baseline days.
* **Week over week**: plays in the 7 days ending on the target day (``last_7d``) against the 7
  before (``prev_7d``; ``wow_growth = last / prev - 1``), when all 14 days are aggregated. For
  the weekly rule a week is judged, like a day, against the higher or lower of ``prev_7d`` and
  the median of the complete earlier weeks of the baseline (so the week after an unusual one is
  not a trend); ``wow_z = (last - ref) / sqrt(last + ref)``, the difference of two Poisson
  counts in standard deviations. Weekly sums hold every weekday once, so the weekly rhythm
  cancels out. A steady climb that no single day shows is **rising** when ``wow_z >=
  z_threshold``, ``last >= min_wow_ratio * ref`` and ``last >= 7 * min_plays``; **falling** the
  other way round.
* **Score** ``max(|z|, |wow_z|)`` ranks trends; **significant** when it reaches
  ``significant_z`` (new entries: ``plays >= significant_new_plays``); those raise the
  ``significant_listening_trends`` event for content and alerting.

With the defaults, flat Poisson noise around any level, with a weekend lift of up to 1.6x, gives
no trend in 20,000 entity-days (``tests/include/analytics/test_trends.py``); the stated
false-alarm rate is below 1 in 10,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np

EntityType = Literal["artist", "track"]
TrendKind = Literal["rising", "falling", "new"]
# 1 / Phi^-1(3/4): makes the median absolute deviation estimate a normal standard deviation.
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class TrendRules:
    baseline_days: int = 28
    min_history_days: int = 14
    min_plays: int = 50
    z_threshold: float = 5.0
    min_ratio: float = 1.5
    min_wow_ratio: float = 1.3
    significant_z: float = 8.0
    significant_new_plays: int = 200


@dataclass(frozen=True)
class DailyPlays:
    """One entity's plays (and distinct listeners) on one aggregated day."""

    entity_id: str
    day: date
    plays: int
    listeners: int


@dataclass(frozen=True)
class Trend:
    entity_type: EntityType
    entity_id: str
    kind: TrendKind
    plays: int
    listeners: int
    baseline_median: float
    baseline_mad: float
    baseline_days: int
    # What the day was judged against (see the module's "usual level"); ratio = plays / it.
    baseline_level: float
    robust_z: float
    ratio: float | None
    last_7d_plays: int
    prev_7d_plays: int | None
    wow_growth: float | None
    wow_z: float | None
    score: float
    significant: bool


def baseline_window(day: date, rules: TrendRules) -> tuple[date, date]:
    """``[first, last]`` days a detection for ``day`` reads: its baseline and the day itself."""
    return day - timedelta(days=rules.baseline_days), day


def detect_trends(
    entity_type: EntityType,
    series: Iterable[DailyPlays],
    *,
    day: date,
    aggregated_days: Sequence[date],
    rules: TrendRules = TrendRules(),
) -> list[Trend]:
    """Trends on ``day`` among the entities of ``series``, strongest first.

    ``aggregated_days`` lists every day in :func:`baseline_window` that the aggregation wrote;
    ``series`` holds the entities' non-zero days among them (rows on other days are ignored).
    """
    first, _ = baseline_window(day, rules)
    baseline_days = sorted({d for d in aggregated_days if first <= d < day})
    if day not in aggregated_days or len(baseline_days) < rules.min_history_days:
        return []
    columns = {d: i for i, d in enumerate([*baseline_days, day])}
    ids: dict[str, int] = {}
    cells: list[tuple[int, int, int]] = []
    listeners: dict[int, int] = {}
    for row in series:
        column = columns.get(row.day)
        if column is None:
            continue
        entity = ids.setdefault(row.entity_id, len(ids))
        cells.append((entity, column, row.plays))
        if row.day == day:
            listeners[entity] = row.listeners
    if not ids:
        return []
    plays = np.zeros((len(ids), len(columns)), dtype=np.float64)
    rows, cols, values = np.array(cells, dtype=np.int64).T
    plays[rows, cols] = values
    baseline, today = plays[:, :-1], plays[:, -1]
    daily = _daily_scores(baseline, today, baseline_days, day)
    weekly = _weekly_scores(plays, [*baseline_days, day], day, rules)
    last_7d, prev_7d, wow_z = weekly.last, weekly.prev, weekly.z
    median = daily.median
    never_played = baseline.max(axis=1) == 0
    new = never_played & (today >= rules.min_plays)
    spiking = (daily.z >= rules.z_threshold) & (today >= rules.min_ratio * daily.level)
    sinking = (
        (daily.z <= -rules.z_threshold)
        & (today * rules.min_ratio <= daily.level)
        & (median >= rules.min_plays)
    )
    climbing = dropping = np.zeros(len(ids), dtype=bool)
    if wow_z is not None:
        week_support = 7 * rules.min_plays
        climbing = (
            (wow_z >= rules.z_threshold)
            & (last_7d >= rules.min_wow_ratio * weekly.reference)
            & (last_7d >= week_support)
        )
        dropping = (
            (wow_z <= -rules.z_threshold)
            & (last_7d * rules.min_wow_ratio <= weekly.reference)
            & (weekly.reference >= week_support)
        )
    rising = ~never_played & (today >= rules.min_plays) & (spiking | climbing)
    falling = ~rising & (sinking | dropping)
    score = np.maximum(np.abs(daily.z), 0.0 if wow_z is None else np.abs(wow_z))
    names = list(ids)
    trends = []
    for index in np.flatnonzero(new | rising | falling):
        kind: TrendKind = "new" if new[index] else "rising" if rising[index] else "falling"
        significant = (
            today[index] >= rules.significant_new_plays
            if kind == "new"
            else score[index] >= rules.significant_z
        )
        level = float(daily.level[index])
        prev = None if prev_7d is None else int(prev_7d[index])
        last = int(last_7d[index])
        trends.append(
            Trend(
                entity_type=entity_type,
                entity_id=names[index],
                kind=kind,
                plays=int(today[index]),
                listeners=listeners.get(int(index), 0),
                baseline_median=float(median[index]),
                baseline_mad=float(daily.mad[index]),
                baseline_days=len(baseline_days),
                baseline_level=round(level, 4),
                robust_z=round(float(daily.z[index]), 4),
                ratio=round(float(today[index]) / level, 4) if level else None,
                last_7d_plays=last,
                prev_7d_plays=prev,
                wow_growth=round(last / prev - 1.0, 4) if prev else None,
                wow_z=None if wow_z is None else round(float(wow_z[index]), 4),
                score=round(float(score[index]), 4),
                significant=bool(significant),
            )
        )
    trends.sort(key=lambda t: (-t.score, t.entity_id))
    return trends


@dataclass(frozen=True)
class _Daily:
    median: np.ndarray
    mad: np.ndarray
    level: np.ndarray  # what each entity's day is judged against
    z: np.ndarray  # 0 inside the usual range


def _daily_scores(
    baseline: np.ndarray, today: np.ndarray, baseline_days: list[date], day: date
) -> _Daily:
    median = np.median(baseline, axis=1)
    mad = np.median(np.abs(baseline - median[:, None]), axis=1)
    # A sparse series (played on under half the days) has median 0: its mean says more.
    usual = np.where(median > 0, median, baseline.mean(axis=1))
    same_weekday = np.array([d.weekday() == day.weekday() for d in baseline_days])
    weekday = np.median(baseline[:, same_weekday], axis=1) if same_weekday.sum() >= 2 else usual
    high, low = np.maximum(usual, weekday), np.minimum(usual, weekday)
    spread = np.where(mad > 0, MAD_TO_SD * mad, baseline.std(axis=1))
    above, below = today > high, today < low
    level = np.where(above, high, np.where(below, low, usual))
    scale = np.maximum(spread, np.sqrt(np.maximum(np.maximum(level, today), 1.0)))
    z = np.where(above | below, (today - level) / scale, 0.0)
    return _Daily(median, mad, level, z)


@dataclass(frozen=True)
class _Weekly:
    last: np.ndarray
    prev: np.ndarray | None  # None: the week before is not fully aggregated
    reference: np.ndarray  # what the last week is judged against
    z: np.ndarray | None  # None: no weekly rule (no comparable week)


def _weekly_scores(plays: np.ndarray, days: list[date], day: date, rules: TrendRules) -> _Weekly:
    """The 7 days ending on ``day`` against the week before and the median complete earlier
    week of the baseline."""
    index = {d: i for i, d in enumerate(days)}

    def week_sum(weeks_back: int) -> np.ndarray | None:
        week = [day - timedelta(days=7 * weeks_back + n) for n in range(7)]
        if any(d not in index for d in week):
            return None
        total: np.ndarray = plays[:, [index[d] for d in week]].sum(axis=1)
        return total

    last_days = [
        index[day - timedelta(days=n)] for n in range(7) if day - timedelta(days=n) in index
    ]
    last = plays[:, last_days].sum(axis=1)
    if len(last_days) < 7:
        return _Weekly(last, None, last, None)
    earlier = [week_sum(n) for n in range(1, rules.baseline_days // 7)]
    prev = earlier[0]
    complete = [w for w in earlier if w is not None]
    if prev is None and len(complete) < 2:
        return _Weekly(last, prev, last, None)
    candidates = [w for w in (prev,) if w is not None]
    if len(complete) >= 2:
        candidates.append(np.median(np.stack(complete), axis=0))
    high = np.maximum.reduce(candidates)
    low = np.minimum.reduce(candidates)
    above, below = last > high, last < low
    reference = np.where(above, high, np.where(below, low, last))
    z = np.where(
        above | below, (last - reference) / np.sqrt(np.maximum(last + reference, 1.0)), 0.0
    )
    return _Weekly(last, prev, reference, z)


def describe_trend(
    name: str,
    kind: str,
    *,
    day: date,
    plays: int,
    level: float,
    ratio: float | None,
    robust_z: float,
    wow_z: float | None,
    wow_growth: float | None,
    last_7d: int,
) -> tuple[str, dict[str, int | float | str]]:
    """A sentence template and its facts for one trend, as the digest and the report state it
    (the caller formats the numbers): the day's move, or the week's when that is the stronger."""
    facts: dict[str, int | float | str] = {"name": name, "day": day.isoformat()}
    if kind == "new":
        return "{name} is new here: {plays} plays on {day}.", {**facts, "plays": plays}
    if abs(wow_z or 0.0) > abs(robust_z):
        facts["last"] = last_7d
        if wow_growth is None:
            verb = "climbed" if kind == "rising" else "dropped"
            return f"{{name}} {verb} to {{last}} plays in the 7 days to {{day}}.", facts
        facts["pct"] = round(100 * abs(wow_growth), 1)
        verb = "grew" if kind == "rising" else "fell"
        return (
            f"{{name}} {verb} {{pct}}% in a week, to {{last}} plays in the 7 days to {{day}}.",
            facts,
        )
    facts.update(plays=plays, level=level)
    if kind == "falling":
        return "{name} fell to {plays} plays on {day}, from a usual {level}.", facts
    if ratio is not None:
        facts["ratio"] = ratio
        return "{name} rose to {plays} plays on {day}, {ratio} times its usual {level}.", facts
    return "{name} rose to {plays} plays on {day}, from a usual {level}.", facts
