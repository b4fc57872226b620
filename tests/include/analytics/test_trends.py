"""Trend detection on series with planted trends, and on flat noise (no false alarms)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from spotify_agent.analytics.trends import DailyPlays, TrendRules, detect_trends

DAY = date(2026, 11, 1)
BASELINE = [DAY - timedelta(days=n) for n in range(28, 0, -1)]
ALL_DAYS = [*BASELINE, DAY]
DEFAULT_RULES = TrendRules()


def _series(entity_id: str, plays_by_day: list[int], days: list[date] = ALL_DAYS):
    return [
        DailyPlays(entity_id, d, plays, max(plays // 2, 0))
        for d, plays in zip(days, plays_by_day, strict=True)
        if plays
    ]


def _weekly(level: float, rng: np.random.Generator, weekend: float = 1.3) -> list[int]:
    """A Poisson series with a weekend lift, the shape real listening has."""
    lift = [1.0, 1.0, 1.0, 1.0, 1.1, weekend, weekend - 0.05]
    return [int(rng.poisson(level * lift[d.weekday()])) for d in ALL_DAYS]


def _detect(series, days=ALL_DAYS, rules=DEFAULT_RULES):
    return {t.entity_id: t for t in detect_trends("track", series, day=DAY, aggregated_days=days, rules=rules)}  # fmt: skip


def test_planted_trends_are_found_with_the_numbers_behind_them() -> None:
    rng = np.random.default_rng(7)
    flat = _weekly(400, rng)
    spike = [*_weekly(400, rng)[:-1], 1_600]
    drop = [*_weekly(400, rng)[:-1], 90]
    newcomer = [0] * 28 + [250]
    ramp = [int(100 * 1.06**n) for n in range(29)]  # steady growth; today is 5.1x the start
    found = _detect(
        [
            *_series("flat", flat),
            *_series("spike", spike),
            *_series("drop", drop),
            *_series("newcomer", newcomer),
            *_series("ramp", ramp),
        ]
    )
    assert set(found) == {"spike", "drop", "newcomer", "ramp"}
    assert found["spike"].kind == "rising" and found["spike"].significant
    assert found["drop"].kind == "falling" and found["drop"].significant
    assert found["newcomer"].kind == "new" and found["newcomer"].significant
    assert found["ramp"].kind == "rising"

    spike_trend = found["spike"]
    baseline = np.array(spike[:-1], dtype=float)
    median = float(np.median(baseline))
    sundays = [p for d, p in zip(BASELINE, spike, strict=False) if d.weekday() == DAY.weekday()]
    # Judged against the higher of the 28-day median and the median of the four Sundays.
    level = max(median, float(np.median(sundays)))
    assert spike_trend.plays == 1_600 and spike_trend.listeners == 800
    assert spike_trend.baseline_median == median and spike_trend.baseline_level == level
    assert spike_trend.baseline_mad == float(np.median(np.abs(baseline - median)))
    assert spike_trend.baseline_days == 28
    assert spike_trend.ratio == round(1_600 / level, 4)
    assert spike_trend.last_7d_plays == sum(spike[-7:])
    assert spike_trend.prev_7d_plays == sum(spike[-14:-7])
    assert spike_trend.wow_growth == round(sum(spike[-7:]) / sum(spike[-14:-7]) - 1, 4)
    assert spike_trend.robust_z > 8 and spike_trend.score >= spike_trend.robust_z
    # The ramp is no single day's jump: the week's climb found it.
    assert found["ramp"].wow_z > 5 and found["ramp"].score == found["ramp"].wow_z
    # Strongest first.
    scores = [t.score for t in detect_trends("track", _series("spike", spike) + _series("drop", drop) + _series("ramp", ramp), day=DAY, aggregated_days=ALL_DAYS)]  # fmt: skip
    assert scores == sorted(scores, reverse=True)


def test_flat_noise_raises_no_trend() -> None:
    """20,000 entity-days of noise at levels from 20 to 20,000 plays a day, weekend lifts up to
    1.6x: not one trend (the documented false-alarm rate is under 1 in 10,000)."""
    rng = np.random.default_rng(2026)
    levels = np.geomspace(20, 20_000, 20_000)
    lifts = np.linspace(1.0, 1.6, 20_000)
    rng.shuffle(lifts)
    series = [
        row
        for i, (level, lift) in enumerate(zip(levels, lifts, strict=True))
        for row in _series(f"t{i}", _weekly(level, rng, weekend=lift))
    ]
    assert _detect(series) == {}


def test_a_weekly_rhythm_is_not_a_trend() -> None:
    """An artist played mostly at weekends, and one played mostly on weekdays, seen on a
    Sunday (DAY) and on a Monday."""
    weekend_lift = [1_000 if d.weekday() < 5 else 1_700 for d in ALL_DAYS]
    weekday_only = [1_000 if d.weekday() < 5 else 350 for d in ALL_DAYS]
    assert _detect(_series("weekend", weekend_lift) + _series("weekday", weekday_only)) == {}
    monday = DAY + timedelta(days=1)
    days = [*ALL_DAYS[1:], monday]
    series = _series("weekend", [1_000 if d.weekday() < 5 else 1_700 for d in days], days)
    series += _series("weekday", [1_000 if d.weekday() < 5 else 350 for d in days], days)
    assert detect_trends("artist", series, day=monday, aggregated_days=days) == []


def test_a_sparse_series_is_judged_by_its_mean_and_spread() -> None:
    """Played on every third day: the median is 0, which says nothing. A usual day is no trend;
    ten times the usual day is."""
    every_third = [100 if n % 3 == 0 else 0 for n in range(28)]
    assert _detect(_series("sparse", [*every_third, 100])) == {}
    trend = _detect(_series("sparse", [*every_third, 1_000]))["sparse"]
    assert trend.kind == "rising" and trend.baseline_median == 0
    sundays = [p for d, p in zip(BASELINE, every_third, strict=True) if d.weekday() == 6]
    assert trend.baseline_level == max(round(sum(every_third) / 28, 4), float(np.median(sundays)))


def test_the_week_after_an_unusual_week_is_not_a_trend() -> None:
    """A week of double plays, then back to normal: the new week is compared with the typical
    earlier week too, not only with the spike before it."""
    plays = [1_000] * 29
    plays[15:22] = [2_000] * 7  # the week before the last
    assert _detect(_series("back", plays)) == {}


def test_too_little_support_or_history_is_not_a_trend() -> None:
    rng = np.random.default_rng(3)
    small_spike = [*([2] * 28), 40]  # 20x, but under min_plays
    small_drop = [*_weekly(30, rng)[:-1], 0]  # falls to nothing from under min_plays
    big_spike = [*([400] * 28), 2_000]
    assert set(_detect(_series("small", small_spike) + _series("dropped", small_drop))) == set()
    # Thirteen aggregated baseline days are not enough to judge anything.
    short = [*BASELINE[-13:], DAY]
    assert _detect(_series("big", big_spike[-14:], short), days=short) == {}
    assert set(_detect(_series("big", big_spike[-15:], [*BASELINE[-14:], DAY]), days=[*BASELINE[-14:], DAY])) == {"big"}  # fmt: skip
    # A day that was never aggregated finds nothing (there is nothing to compare).
    assert _detect(_series("big", big_spike[:-1], BASELINE), days=BASELINE) == {}


def test_days_the_aggregation_never_wrote_are_left_out_not_zero() -> None:
    steady = [500] * 29
    # Ten days of the baseline were never aggregated: the series has no rows for them, and they
    # must not count as ten days of zero plays (which would make today look like a jump).
    aggregated = [d for i, d in enumerate(ALL_DAYS) if not 12 <= i < 22]
    series = [row for row in _series("steady", steady) if row.day in aggregated]
    assert _detect(series, days=aggregated) == {}
    # Had they been zeros, the median would still be 500 (18 of 28 days), so check the MAD
    # the trend would carry: one more planted spike to read the numbers from.
    spiked = [row for row in _series("spiked", [*steady[:-1], 5_000]) if row.day in aggregated]
    trend = _detect(spiked, days=aggregated)["spiked"]
    assert trend.baseline_days == 18 and trend.baseline_mad == 0.0 and trend.baseline_level == 500
    assert trend.prev_7d_plays is None and trend.wow_growth is None  # a gap in the fortnight


@pytest.mark.parametrize("level", [60, 600, 6_000])
def test_a_doubling_is_rising_at_every_level(level: int) -> None:
    rng = np.random.default_rng(level)
    series = _weekly(level, rng)
    series[-1] = int(2.2 * level)
    assert _detect(_series("x", series))["x"].kind == "rising"
