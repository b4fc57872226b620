"""The trend_detection job without Airflow, on each warehouse backend: planted trends stored and
audited for the attempt, a re-run writes the same rows, too little history is a named skip, and
the Asset event's summary names the strongest significant trends first."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from spotify_agent.analytics.confs import TrendDetectionConf
from spotify_agent.analytics.trend_detection import detect_listening_trends
from spotify_agent.core.audit import Attempt
from spotify_agent.core.progress import round_significant
from spotify_agent.warehouse.schema import audit_log, listening_trends
from tests.include.analytics.trend_history import DAY, DAYS, FALLING, NEW, RISING, plant_aggregates

ATTEMPT = Attempt("trend_detection", "manual__job-test", "ab" * 16, task_id="detect", try_number=1)
NOW = datetime(2026, 10, 30, 2, 0, tzinfo=UTC)


def _rows(engine, day=DAY) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(listening_trends).where(listening_trends.c.day == day))
        return {row.entity_id: dict(row._mapping) for row in rows}


def _audits(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
        return [dict(row) for row in rows]


def test_planted_trends_are_stored_and_audited_for_the_attempt(warehouse) -> None:
    with warehouse.begin() as connection:
        plant_aggregates(connection)

    found, summary = detect_listening_trends(
        warehouse, [DAY], TrendDetectionConf(), ATTEMPT, now=NOW
    )

    stored = _rows(warehouse)
    assert {k: v["kind"] for k, v in stored.items()} == {
        RISING: "rising",
        NEW: "new",
        FALLING: "falling",
    }
    assert {row["run_id"] for row in stored.values()} == {ATTEMPT.run_id}
    (audit,) = _audits(warehouse)
    assert (audit["action"], audit["outcome"], audit["entity_key"]) == (
        "trends_detected",
        "done",
        DAY.isoformat(),
    )
    assert (audit["task_id"], audit["try_number"], audit["trace_id"]) == ("detect", 1, "ab" * 16)
    assert audit["counts"] == found[0].counts
    assert found[0].counts["significant"] == 3
    assert "days" not in summary  # the event's partition key says which day
    assert summary["significant"] == 3
    scores = [t["score"] for t in summary["top"]]
    assert scores == sorted(scores, reverse=True)
    # The event's figures keep 4 significant digits; the stored rows keep them whole.
    for trend in summary["top"]:
        row = stored[trend["entity_id"]]
        for name in ("score", "robust_z", "wow_growth"):
            assert trend[name] == (None if row[name] is None else round_significant(row[name]))
    assert found[0].summary_line() == f"{DAY}: 3 trends, 3 significant"


def test_a_re_run_writes_the_same_rows_and_replaces_its_audit(warehouse) -> None:
    with warehouse.begin() as connection:
        plant_aggregates(connection)
    detect_listening_trends(warehouse, [DAY], TrendDetectionConf(), ATTEMPT, now=NOW)
    first = _rows(warehouse)

    detect_listening_trends(warehouse, [DAY], TrendDetectionConf(), ATTEMPT, now=NOW)

    assert _rows(warehouse) == first
    assert len(_audits(warehouse)) == 1  # the same attempt's action, replaced


def test_too_little_history_is_a_named_skip(warehouse) -> None:
    with warehouse.begin() as connection:
        plant_aggregates(connection)
    early = DAYS[10]

    (found,), summary = detect_listening_trends(
        warehouse, [early], TrendDetectionConf(), ATTEMPT, now=NOW
    )

    assert (found.outcome, found.detail) == ("skipped", "8 aggregated baseline days, 14 needed")
    assert _rows(warehouse, early) == {}
    assert summary == {"trends": 0, "significant": 0, "top": []}


def test_a_stricter_threshold_reports_fewer_trends(warehouse) -> None:
    with warehouse.begin() as connection:
        plant_aggregates(connection)
    strict = TrendDetectionConf(z_threshold=50.0, min_plays=1000)

    (found,), _ = detect_listening_trends(warehouse, [DAY], strict, ATTEMPT, now=NOW)

    assert found.counts["trends"] < 3
