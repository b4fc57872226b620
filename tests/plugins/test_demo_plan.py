"""`make demo` runs the partitioned listening chain for the days its ingest stored: once per day
(aggregation: today too, as its partial; trends and reports: finished days), once per ISO week
(weekly report), each with its day in the conf, as `airflow dags test` needs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from spotify_agent_airflow.commands.demo import _partitions_stored, _runs_of


def test_the_days_come_from_the_ingest_s_own_log_line() -> None:
    log = (
        '{"timestamp":"2026-12-04T01:44:09Z","level":"info","event":"run totals of 2 tasks"}\n'
        '{"timestamp":"2026-12-04T01:44:09Z","level":"info",'
        '"event":"partitions changed: 2026-12-01, 2026-12-03","logger":"x"}\n'
    )
    assert _partitions_stored(log) == [date(2026, 12, 1), date(2026, 12, 3)]
    assert _partitions_stored("run totals of 2 tasks: none") == []


def test_each_dag_of_the_chain_runs_for_its_days_and_weeks() -> None:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)  # last week's
    days = [monday, monday + timedelta(days=2), today]

    aggregation = _runs_of("streaming_aggregation", days, {})
    assert [partition for partition, _ in aggregation] == [d.isoformat() for d in days]
    assert aggregation[-1][1] == {"day": today.isoformat()}  # today: its partial
    trends = _runs_of("trend_detection", days, {"min_plays": 5})
    assert trends == [(d.isoformat(), {"min_plays": 5, "day": d.isoformat()}) for d in days[:2]]
    (week,) = _runs_of("weekly_reporting", days, {})
    assert week == (
        f"{monday} (W{monday.isocalendar().week:02d})",
        {"day": monday.isoformat()},
    )
    assert _runs_of("backup", days, {"x": 1}) == [(None, {"x": 1})]
