"""trend_detection end to end on 28 days of aggregates: planted trends found with their numbers,
a re-run writes the same rows, too little history is a named skip, bad conf is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import audit_log, listening_trends
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.include.analytics.trend_history import (
    DAY,
    DAYS,
    FALLING,
    NEW,
    NOT_AGGREGATED,
    RISING,
    SMALL,
    plant_aggregates,
)
from tests.receivers import StatsdReceiver, run_statsd_receiver
from tests.statsd_mapping import assert_every_line_maps


@pytest.fixture(scope="module")
def warehouse(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.begin() as connection:
        plant_aggregates(connection)
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
def statsd() -> Iterator[StatsdReceiver]:
    """What the module's first run sends to statsd (only that run is pointed at it)."""
    with run_statsd_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def detected(airflow_home, warehouse, statsd):
    result = airflow_home.dags_test(
        "trend_detection", {"day": DAY.isoformat()}, extra_env=statsd.env()
    )
    assert result.returncode == 0, result.stdout[-4000:]
    detected.stdout = result.stdout
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


def test_significant_trends_reach_the_dashboard(detected, statsd, tmp_path) -> None:
    series = assert_every_line_maps(statsd.lines)
    significant = [one for one in series if one.name == "spotify_agent_significant_trends_total"]
    assert [one.value for one in significant] == [3]
    assert_queries_return_data(panel_queries("Significant trends (last day)"), series, tmp_path)


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


def test_significant_trends_start_a_content_generation_run(airflow_home, detected) -> None:
    import sqlite3

    # Airflow queues no unpartitioned DAG from a keyed event: start_content starts it.
    with sqlite3.connect(airflow_home.path / "airflow.db") as metadata:
        runs = metadata.execute(
            "SELECT run_id, conf FROM dag_run WHERE dag_id = 'content_generation'"
        ).fetchall()
    assert any(run_id.startswith("trend_detection__") for run_id, _ in runs), runs
