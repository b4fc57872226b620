"""The analytics chain under a real scheduler: a finished day written by streaming_aggregation
announces itself through its Asset, trend_detection runs for that day and announces the
significant trends in its own Asset event, reporting writes the day's report, which the API
server serves to a signed-in user from the task's extra link."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import httpx
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
    reports,
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


def _wait_for(engine, query, what: str, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query).first():
                return
        time.sleep(2)
    pytest.fail(f"{what} within {timeout_s}s")


def _report_link(api, ending: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run in api.request("GET", "/dags/reporting/dagRuns").json()["dag_runs"]:
            path = f"/dags/reporting/dagRuns/{run['dag_run_id']}/taskInstances/build/links"
            url = api.request("GET", path).json()["extra_links"].get("Daily report")
            if url and url.endswith(ending):
                # A path on the UI's own host, so it follows the UI to any host or port.
                assert url.startswith("/reports/"), url
                return str(api.base + url)
        time.sleep(2)
    pytest.fail(f"no reporting run links to {ending} within {timeout_s}s")


def test_a_finished_day_is_detected_reported_and_served(airflow_home, running_airflow, api) -> None:
    env, _ = running_airflow
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    _seed(engine)
    for dag_id in ("reporting", "trend_detection", "streaming_aggregation"):
        airflow_until_ok(env, "dags", "unpause", dag_id)
    try:
        # As the backend would re-aggregate a day: trend_detection is never triggered by hand.
        airflow_until_ok(
            env, "dags", "trigger", "streaming_aggregation", "--conf", f'{{"day": "{DAY}"}}'
        )
        _wait_for(
            engine,
            select(audit_log.c.id).where(
                audit_log.c.action == "trends_detected", audit_log.c.entity_key == DAY.isoformat()
            ),
            f"trend_detection did not run for {DAY}",
        )
    finally:
        # Its hourly schedule would otherwise keep running beside the other tests.
        airflow_until_ok(env, "dags", "pause", "streaming_aggregation")
    _wait_for(
        engine,
        select(reports.c.label).where(reports.c.kind == "daily", reports.c.label == str(DAY)),
        f"reporting did not report on {DAY}",
    )
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
    # The scheduled run of streaming_aggregation may have announced another day meanwhile.
    (extra,) = [
        e["extra"]
        for e in events
        if e["source_task_id"] == "announce_significant" and e["extra"]["days"] == [str(DAY)]
    ]
    assert extra["significant"] == 2
    assert {(t["entity_id"], t["kind"]) for t in extra["top"]} == {
        (TRACK, "new"),
        (ARTIST, "rising"),
    }
    # The report, from the build task's extra link, as a person clicking it would get it (the
    # link is stored when the task ends, a moment after the report's row).
    url = _report_link(api, f"/reports/daily/{DAY}/report.html")
    page = httpx.get(url, headers={"Authorization": f"Bearer {api.token}"}, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "400 plays by 400 listeners" in page.text
    extract = httpx.get(url.replace("report.html", "movers.csv"), cookies={"_token": api.token}, timeout=30)  # fmt: skip
    assert extract.status_code == 200 and TRACK in extract.text
    # Signed out: nothing.
    assert httpx.get(url, timeout=30).status_code == 401
    index = httpx.get(url.split("/daily/")[0] + "/", cookies={"_token": api.token}, timeout=30)
    assert f'href="daily/{DAY}/report.html"' in index.text
