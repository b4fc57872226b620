"""trend_detection end to end on 28 days of aggregates: planted trends found with their numbers,
a re-run writes the same rows, too little history is a named skip, bad conf is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_tracks,
    aggregation_periods,
    audit_log,
    listening_trends,
)

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


@pytest.fixture(scope="module")
def warehouse(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    now = datetime.now(UTC)
    common = {"ms_played": 0, "timed_plays": 0, "skips": 0}
    with engine.begin() as connection:
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
    yield engine
    engine.dispose()


def _trends(engine, day: date = DAY) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(listening_trends).where(listening_trends.c.day == day)
        ).mappings()
        return {row["entity_id"]: dict(row) for row in rows}


def _audits(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log)
            .where(audit_log.c.action == "trends_detected")
            .order_by(audit_log.c.id)
        ).mappings()
        return [dict(row) for row in rows]


@pytest.fixture(scope="module")
def detected(airflow_home, warehouse):
    result = airflow_home.dags_test("trend_detection", {"day": DAY.isoformat()})
    assert result.returncode == 0, result.stdout[-4000:]
    return _trends(warehouse)


def test_planted_trends_are_stored_with_the_numbers_behind_them(detected) -> None:
    assert {k: (v["entity_type"], v["kind"]) for k, v in detected.items()} == {
        RISING: ("artist", "rising"),
        NEW: ("track", "new"),
        FALLING: ("track", "falling"),
    }
    rising = detected[RISING]
    # Summed over countries: plays and (one country per listener) unique listeners.
    assert (rising["plays"], rising["listeners"]) == (600, 55)
    assert rising["baseline_days"] == 26  # 28 days back, two never aggregated
    baseline = sorted(100 + (d.toordinal() % 5) * 4 for d in DAYS[:-1] if d not in NOT_AGGREGATED)
    median = (baseline[12] + baseline[13]) / 2
    assert rising["baseline_median"] == median
    # Judged against the higher of that median and the median of the same weekday.
    same_weekday = sorted(
        100 + (d.toordinal() % 5) * 4
        for d in DAYS[:-1]
        if d not in NOT_AGGREGATED and d.weekday() == DAY.weekday()
    )
    level = max(median, float(np.median(same_weekday)))
    assert rising["baseline_level"] == level
    assert rising["ratio"] == pytest.approx(600 / level, rel=1e-3)
    assert rising["robust_z"] > 8 and rising["significant"]
    assert rising["last_7d_plays"] == 600 + sum(100 + (d.toordinal() % 5) * 4 for d in DAYS[-7:-1])
    assert detected[NEW]["baseline_median"] == 0 and detected[NEW]["significant"]
    assert detected[FALLING]["plays"] == 40 and detected[FALLING]["robust_z"] < -5
    assert SMALL not in detected


def test_the_run_is_audited_with_its_counts(warehouse, detected) -> None:
    audit = _audits(warehouse)[-1]
    assert audit["outcome"] == "done" and audit["entity_key"] == DAY.isoformat()
    counts = audit["counts"]
    assert counts["trends"] == 3 and counts["significant"] == 3
    assert counts["rising_artists"] == 1 and counts["new_tracks"] == 1
    assert counts["falling_tracks"] == 1 and counts["baseline_days"] == 26


def test_a_re_run_writes_the_same_rows(airflow_home, warehouse, detected) -> None:
    result = airflow_home.dags_test("trend_detection", {"day": DAY.isoformat()})
    assert result.returncode == 0, result.stdout[-4000:]
    again = _trends(warehouse)
    volatile = ("run_id", "trace_id", "detected_at")

    def stable(rows):
        return {k: {c: v for c, v in row.items() if c not in volatile} for k, row in rows.items()}

    assert stable(again) == stable(detected)


def test_too_little_history_is_a_named_skip_not_a_trend(airflow_home, warehouse) -> None:
    early = DAYS[10]  # ten days of history, two of them never aggregated
    result = airflow_home.dags_test("trend_detection", {"day": early.isoformat()})
    assert result.returncode == 0, result.stdout[-4000:]
    assert _trends(warehouse, early) == {}
    audit = _audits(warehouse)[-1]
    assert audit["entity_key"] == early.isoformat() and audit["outcome"] == "skipped"
    assert audit["detail"] == "8 aggregated baseline days, 14 needed"


def test_bad_conf_is_refused_before_the_run_naming_the_field(airflow_home, warehouse) -> None:
    before = len(_audits(warehouse))
    result = airflow_home.dags_test("trend_detection", {"z_threshold": 0.5})
    assert result.returncode != 0
    assert "z_threshold" in result.stdout + result.stderr
    assert len(_audits(warehouse)) == before
