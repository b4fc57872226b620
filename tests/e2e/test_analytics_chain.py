"""The analytics chain under a real scheduler: a finished day written by streaming_aggregation
announces itself through its Asset, trend_detection runs for that day and announces the
significant trends in its own Asset event."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_tracks,
    aggregation_periods,
    audit_log,
    catalogue_tracks,
    listening_events,
    listening_trends,
)
from tests.e2e.conftest import airflow_until_ok

DAY = date(2026, 9, 15)
TRACK, ARTIST = "0ChainTrackNew0000001", "0ChainArtist000000001"
STEADY_TRACK = "0ChainTrackSteady0001"


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _seed(engine) -> None:
    """28 aggregated days in which only the steady track played, then the day's raw plays: 300
    listeners play a track the baseline never had."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for n in range(28, 0, -1):
            start = midnight(DAY - timedelta(days=n))
            key = {"kind": "day", "period_start": start}
            connection.execute(
                agg_artist_country.insert(),
                [{**key, "artist_id": ARTIST, "country": "ZZ", "plays": 100, "listeners": 60,
                  "ms_played": 0, "timed_plays": 0, "skips": 0}],
            )  # fmt: skip
            connection.execute(
                agg_tracks.insert(),
                [{**key, "track_id": STEADY_TRACK, "plays": 100, "listeners": 60}],
            )
            connection.execute(
                aggregation_periods.insert(),
                [{**key, "period_end": start + timedelta(days=1), "plays": 100, "rejected": {},
                  "run_id": "seed", "trace_id": "0" * 32, "computed_at": now}],
            )  # fmt: skip
        connection.execute(
            catalogue_tracks.insert(),
            [{"track_id": track, "artist_id": ARTIST, "artist_name": "Chain", "name": track,
              "duration_ms": 200_000, "updated_at": now} for track in (TRACK, STEADY_TRACK)],
        )  # fmt: skip
        connection.execute(
            listening_events.insert(),
            [
                {"user_id": f"chain-{i}", "played_at": midnight(DAY) + timedelta(minutes=i),
                 "track_id": TRACK if i < 300 else STEADY_TRACK, "ms_played": 180_000,
                 "source": "test", "run_id": "seed", "ingested_at": now}
                for i in range(400)
            ],
        )  # fmt: skip


def _wait_for_trend_audit(engine, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            found = connection.execute(
                select(audit_log.c.outcome).where(
                    audit_log.c.action == "trends_detected",
                    audit_log.c.entity_key == DAY.isoformat(),
                )
            ).first()
        if found:
            return
        time.sleep(2)
    pytest.fail(f"trend_detection did not run for {DAY} within {timeout_s}s")


def test_a_finished_day_triggers_trend_detection_for_that_day(
    airflow_home, running_airflow, api
) -> None:
    env, _ = running_airflow
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    _seed(engine)
    airflow_until_ok(env, "dags", "unpause", "trend_detection")
    airflow_until_ok(env, "dags", "unpause", "streaming_aggregation")
    try:
        # As the backend would re-aggregate a day: trend_detection is never triggered by hand.
        airflow_until_ok(
            env, "dags", "trigger", "streaming_aggregation", "--conf", f'{{"day": "{DAY}"}}'
        )
        _wait_for_trend_audit(engine)
    finally:
        # Its hourly schedule would otherwise keep running beside the other tests.
        airflow_until_ok(env, "dags", "pause", "streaming_aggregation")
    with engine.connect() as connection:
        trends = {
            (row.entity_type, row.entity_id): (row.kind, row.plays, row.significant)
            for row in connection.execute(
                select(listening_trends).where(listening_trends.c.day == DAY)
            )
        }
    engine.dispose()
    # The new track is new; the artist went from 100 to 400 plays a day: rising.
    assert trends == {
        ("track", TRACK): ("new", 300, True),
        ("artist", ARTIST): ("rising", 400, True),
    }
    events = api.request(
        "GET", "/assets/events", params={"source_dag_id": "trend_detection"}
    ).json()["asset_events"]
    extra = events[-1]["extra"]
    assert extra["days"] == [DAY.isoformat()] and extra["significant"] == 2
    assert {(t["entity_id"], t["kind"]) for t in extra["top"]} == {
        (TRACK, "new"),
        (ARTIST, "rising"),
    }
