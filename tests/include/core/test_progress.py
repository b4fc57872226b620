"""A long job's log says how far it is (done of total, percent, rate, time left) at a steady
interval, and its results show rounded figures."""

from __future__ import annotations

import logging

import pytest

from spotify_agent.core.progress import Progress, duration, round_significant, rounded


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_at_the_interval_with_percent_rate_and_time_left(caplog) -> None:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="spotify_agent.core.progress")
    progress = Progress("aggregating 2026-11-22", 4_800_000, unit="plays", every_s=30, clock=clock)
    for _ in range(12):  # 100,000 plays every 2.5 s
        clock.now += 2.5
        progress.advance(100_000)
    clock.now += 0.5
    closing = progress.finish()

    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "aggregating 2026-11-22: starting, 4,800,000 plays",
        # logged once, when 30 s had passed: 1.2M of 4.8M at 40,000 plays/s, 90 s to go
        "aggregating 2026-11-22: 1,200,000 of 4,800,000 plays (25%), 40,000 plays/s, "
        "about 1 min 30 s left",
        closing,
    ]
    assert closing == "aggregating 2026-11-22: done, 1,200,000 plays in 30 s, 39,340 plays/s"


def test_an_unknown_total_logs_counts_and_rate_without_a_percent() -> None:
    clock = Clock()
    progress = Progress("backing up warehouse", None, unit="rows", clock=clock)
    clock.now += 4
    progress.advance(10_000)

    assert progress.line() == "backing up warehouse: 10,000 rows, 2,500 rows/s"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0 s"), (9.2, "9 s"), (60, "1 min"), (200, "3 min 20 s"), (3900, "1 h 5 min")],
)
def test_durations_read_at_a_glance(seconds, shown) -> None:
    assert duration(seconds) == shown


def test_results_keep_four_significant_digits_and_leave_the_rest_alone() -> None:
    raw = {
        "ndcg_at_10": 0.31234567890123456,
        "real_time_factor": 301.27777777777777,
        "tracks": 12,
        "flagged": True,
        "models": [{"loss": 1.0000000000000002e-05}, ("als", 2.5)],
    }

    assert rounded(raw) == {
        "ndcg_at_10": 0.3123,
        "real_time_factor": 301.3,
        "tracks": 12,
        "flagged": True,
        "models": [{"loss": 1e-05}, ("als", 2.5)],
    }
    assert round_significant(410_000.33) == 410_000
    assert round_significant(float("nan")) != round_significant(float("nan"))  # NaN stays NaN


@pytest.mark.parametrize(
    ("done", "seconds", "shown"),
    [(12, 4, "3.0 fits/s"), (3, 40, "4.5 fits/min"), (1, 600, "6.0 fits/h")],
)
def test_a_slow_job_states_its_rate_per_minute_or_hour_never_as_zero(done, seconds, shown) -> None:
    clock = Clock()
    progress = Progress("training", 8, unit="fits", clock=clock)
    clock.now += seconds
    progress.advance(done)

    assert shown in progress.line()
