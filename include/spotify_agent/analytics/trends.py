"""Rising, falling and new artists and tracks: a day's plays against their trailing baseline.

Pure functions over daily play counts; the warehouse side is in ``trend_store``.

For each entity (an artist or a track) and target day:

* **Baseline**: the entity's plays on each *aggregated* day of the trailing
  :attr:`TrendRules.baseline_days` (a day the aggregation never wrote is left out, not taken as
  zero plays; a day it wrote without the entity is zero).
* **Robust score**: ``z = (plays - median) / scale`` with ``scale = max(1.4826 * MAD,
  sqrt(max(median, plays, 1)))``. 1.4826 * MAD estimates the standard deviation of normal noise
  without being moved by the spikes we look for; the square-root floor is Poisson noise (taken
  at the larger of the two rates), the least a count of independent plays varies, so a series
  that happened to be flat in its baseline (MAD 0) does not turn every wobble into a trend,
  and a weekend's lift on a small series is not one either.
* **Rising**: ``z >= z_threshold``, ``plays >= min_ratio * median`` and ``plays >= min_plays``.
  **Falling**: ``z <= -z_threshold``, ``plays <= median / min_ratio`` and ``median >=
  min_plays`` (support is judged where the plays were). **New**: no play on any baseline day,
  ``plays >= min_plays`` today. All three need ``min_history_days`` aggregated baseline days.
* **Week over week**: plays in the 7 days ending on the target day (``last``) against the 7
  before (``prev``), when all 14 days are aggregated (else not comparable, ``None``). Weekly sums
  hold the same weekdays, so the weekend lift cancels out. ``wow_z = (last - prev) /
  sqrt(last + prev)``, the difference of two Poisson counts in standard deviations. A steady
  climb that no single day shows (each day near the previous) is **rising** when ``wow_z >=
  z_threshold``, ``last >= min_wow_ratio * prev`` and ``last >= 7 * min_plays``; **falling**
  the other way round (support: ``prev >= 7 * min_plays``).
* **Significant**: ``|z|`` or ``|wow_z|`` ``>= significant_z`` (new entries: ``plays >=
  significant_new_plays``); those raise the ``listening_trends`` event for content and
  alerting.

With the defaults, flat Poisson noise around any mean gives no trend in 20,000 entity-days
(``tests/include/test_trends.py``); the stated false-alarm rate is below 1 in 10,000.
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
    robust_z: float
    ratio: float | None
    last_7d_plays: int
    prev_7d_plays: int | None
    wow_growth: float | None
    wow_z: float | None
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
    median = np.median(baseline, axis=1)
    mad = np.median(np.abs(baseline - median[:, None]), axis=1)
    scale = np.maximum(MAD_TO_SD * mad, np.sqrt(np.maximum(np.maximum(median, today), 1.0)))
    z = (today - median) / scale
    last_7d, prev_7d = _weeks(plays, [*baseline_days, day], day)
    if prev_7d is None:
        wow_z = None
        climbing = dropping = np.zeros(len(ids), dtype=bool)
    else:
        wow_z = (last_7d - prev_7d) / np.sqrt(np.maximum(last_7d + prev_7d, 1.0))
        week_support = 7 * rules.min_plays
        climbing = (
            (wow_z >= rules.z_threshold)
            & (last_7d >= rules.min_wow_ratio * prev_7d)
            & (last_7d >= week_support)
        )
        dropping = (
            (wow_z <= -rules.z_threshold)
            & (last_7d * rules.min_wow_ratio <= prev_7d)
            & (prev_7d >= week_support)
        )
    never_played = baseline.max(axis=1) == 0
    new = never_played & (today >= rules.min_plays)
    spiking = (z >= rules.z_threshold) & (today >= rules.min_ratio * median)
    rising = ~never_played & (today >= rules.min_plays) & (spiking | climbing)
    falling = (median >= rules.min_plays) & (z <= -rules.z_threshold) & (
        today * rules.min_ratio <= median
    ) | dropping
    names = list(ids)
    trends = []
    for index in np.flatnonzero(new | rising | falling):
        kind: TrendKind = "new" if new[index] else "rising" if rising[index] else "falling"
        entity_wow_z = None if wow_z is None else float(wow_z[index])
        significant = (
            today[index] >= rules.significant_new_plays
            if kind == "new"
            else max(abs(z[index]), abs(entity_wow_z or 0.0)) >= rules.significant_z
        )
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
                baseline_mad=float(mad[index]),
                baseline_days=len(baseline_days),
                robust_z=round(float(z[index]), 4),
                ratio=(round(float(today[index] / median[index]), 4) if median[index] else None),
                last_7d_plays=last,
                prev_7d_plays=prev,
                wow_growth=round(last / prev - 1.0, 4) if prev else None,
                wow_z=None if entity_wow_z is None else round(entity_wow_z, 4),
                significant=bool(significant),
            )
        )
    trends.sort(key=lambda t: (-abs(t.robust_z), t.entity_id))
    return trends


def _weeks(plays: np.ndarray, days: list[date], day: date) -> tuple[np.ndarray, np.ndarray | None]:
    """Plays in the 7 days ending on ``day``, and in the 7 before when all are aggregated."""
    index = {d: i for i, d in enumerate(days)}
    last = [index[day - timedelta(days=n)] for n in range(7) if day - timedelta(days=n) in index]
    prev_days = [day - timedelta(days=n) for n in range(7, 14)]
    last_7d = plays[:, last].sum(axis=1)
    if len(last) < 7 or any(d not in index for d in prev_days):
        return last_7d, None
    return last_7d, plays[:, [index[d] for d in prev_days]].sum(axis=1)


def describe_trend(
    name: str,
    kind: str,
    *,
    day: date,
    plays: int,
    baseline_median: float,
    ratio: float | None,
    wow_growth: float | None,
    min_ratio: float = TrendRules.min_ratio,
) -> tuple[str, dict[str, int | float | str]]:
    """A sentence template and its facts for one trend, as the digest and the report state it
    (``{name}`` etc. are filled by the caller, who formats the numbers)."""
    facts: dict[str, int | float | str] = {"name": name, "plays": plays, "day": day.isoformat()}
    if kind == "new":
        return "{name} is new here: {plays} plays on {day}.", facts
    if kind == "falling":
        facts["median"] = baseline_median
        return "{name} fell to {plays} plays on {day}, from a 28-day median of {median}.", facts
    if ratio is not None and ratio >= min_ratio:
        facts["ratio"] = ratio
        return "{name} rose to {plays} plays on {day}, {ratio} times the 28-day median.", facts
    facts["pct"] = round(100 * (wow_growth or 0.0), 1)
    return "{name} grew {pct}% week over week, to {plays} plays on {day}.", facts
