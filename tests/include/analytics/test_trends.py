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


def _weekly(level: float, rng: np.random.Generator) -> list[int]:
    """A Poisson series with a weekend lift, the shape real listening has."""
    lift = [1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.25]
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
    assert spike_trend.plays == 1_600 and spike_trend.listeners == 800
    assert spike_trend.baseline_median == median
    assert spike_trend.baseline_mad == float(np.median(np.abs(baseline - median)))
    assert spike_trend.baseline_days == 28
    assert spike_trend.ratio == round(1_600 / median, 4)
    assert spike_trend.last_7d_plays == sum(spike[-7:])
    assert spike_trend.prev_7d_plays == sum(spike[-14:-7])
    assert spike_trend.wow_growth == round(sum(spike[-7:]) / sum(spike[-14:-7]) - 1, 4)
    assert spike_trend.robust_z > 8
    # Strongest first.
    zs = [abs(t.robust_z) for t in detect_trends("track", _series("spike", spike) + _series("drop", drop), day=DAY, aggregated_days=ALL_DAYS)]  # fmt: skip
    assert zs == sorted(zs, reverse=True)


def test_flat_noise_raises_no_trend() -> None:
    """20,000 entity-days of noise at levels from 20 to 20,000 plays a day: not one trend (the
    documented false-alarm rate is under 1 in 10,000)."""
    rng = np.random.default_rng(2026)
    levels = np.geomspace(20, 20_000, 20_000)
    series = [
        row for i, level in enumerate(levels) for row in _series(f"t{i}", _weekly(level, rng))
    ]
    assert _detect(series) == {}


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
    assert trend.baseline_days == 18 and trend.baseline_mad == 0.0
    assert trend.prev_7d_plays is None and trend.wow_growth is None  # a gap in the fortnight


@pytest.mark.parametrize("level", [60, 600, 6_000])
def test_a_doubling_is_rising_at_every_level(level: int) -> None:
    rng = np.random.default_rng(level)
    series = _weekly(level, rng)
    series[-1] = int(2.2 * level)
    assert _detect(_series("x", series))["x"].kind == "rising"
