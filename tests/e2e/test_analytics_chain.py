"""The partitioned listening chain under a real scheduler, dag processor and API server.

A day announced as a partition of `listening_events` runs `streaming_aggregation`,
`trend_detection`, `reporting` and `weekly_reporting` for that day (each run's partition key
names it), starts `content_generation` when trends are significant, and the API server serves
the report. A late landing file for that day re-runs the day and its week, through
`listening_ingest`. A backfill of three days through `listening_days` writes the rows that three
days announced one after the other wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, delete, func, select

from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_hours,
    agg_listeners,
    agg_tracks,
    aggregation_periods,
    audit_log,
    catalogue_tracks,
    ingested_files,
    listening_events,
    listening_trends,
    reports,
)
from spotify_agent.warehouse.times import stored_utc

DAY = date(2026, 9, 15)  # a Tuesday of ISO week 38
WEEK_KEY = "2026-09-14 (W38)"
BACKFILLED = [DAY + timedelta(days=n) for n in (1, 2, 3)]  # Wednesday to Friday
TRACK, ARTIST = "0ChainTrackNew00000001", "0ChainArtist000000001"
STEADY_TRACK = "0ChainTrackSteady00001"
CHAIN = ("listening_days", "streaming_aggregation", "trend_detection", "reporting",
         "weekly_reporting")  # fmt: skip
AGGREGATES = (agg_artist_country, agg_tracks, agg_listeners, agg_hours)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _plays(day: date, new: int, steady: int, prefix: str) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {"user_id": f"{prefix}-{i}", "played_at": midnight(day) + timedelta(minutes=i),
         "track_id": TRACK if i < new else STEADY_TRACK, "ms_played": 180_000,
         "source": "test", "run_id": "seed", "ingested_at": now}
        for i in range(new + steady)
    ]  # fmt: skip


def _seed(engine) -> None:
    """28 aggregated days in which only the steady track played, then raw plays: on DAY, 300
    listeners play a track the baseline never had; the three days after, fewer."""
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
        connection.execute(listening_events.insert(), _plays(DAY, 300, 100, "chain"))
        for n, day in enumerate(BACKFILLED):
            connection.execute(listening_events.insert(), _plays(day, 40 * n, 100, f"fill{n}"))


@pytest.fixture(scope="module")
def seeded(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    _seed(engine)
    yield engine
    engine.dispose()


def _set_paused(api, dag_id: str, paused: bool) -> bool:
    answer = api.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
    return answer.status_code == 200


@pytest.fixture
def chain(seeded, api):
    """The chain unpaused for one test: other tests of this worker's Airflow run between this
    module's tests, and the chain's runs must not start beside theirs."""
    for dag_id in CHAIN:
        _wait(f"{dag_id} could not be unpaused", lambda dag_id=dag_id: _set_paused(api, dag_id, False), 120)  # fmt: skip
    yield seeded
    for dag_id in CHAIN:
        _set_paused(api, dag_id, True)
    # The content_generation runs trend_detection started would wait for a review (one active
    # run) in front of the next test's own (test_content_approval).
    for run in api.request("GET", "/dags/content_generation/dagRuns").json()["dag_runs"]:
        if run["dag_run_id"].startswith("trend_detection__"):
            api.request("DELETE", f"/dags/content_generation/dagRuns/{run['dag_run_id']}")


def _wait(what: str, found, timeout_s: float = 300):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"{what} within {timeout_s}s")


def _runs(api, dag_id: str, key: str) -> list[dict]:
    answer = api.request("GET", f"/dags/{dag_id}/dagRuns", params={"partition_key_pattern": key})
    return [run for run in answer.json()["dag_runs"] if run["partition_key"] == key]


def _succeeded(api, dag_id: str, key: str, at_least: int = 1):
    done = [run for run in _runs(api, dag_id, key) if run["state"] == "success"]
    return done if len(done) >= at_least else None


def _announce(api, day: date) -> None:
    answer = api.request(
        "POST",
        "/dags/listening_days/dagRuns",
        json={"logical_date": None, "partition_key": day.isoformat()},
    )
    assert answer.status_code == 200, answer.text


def _first_chain(api) -> None:
    """DAY's chain done, announced here unless test_an_announced_day_runs... did (xdist may run
    this module's tests on different workers, each with its own Airflow)."""
    if not _runs(api, "listening_days", str(DAY)):
        _announce(api, DAY)
    _wait("the first chain", lambda: _succeeded(api, "weekly_reporting", WEEK_KEY))
    _chain_done(api, DAY)


def _chain_done(api, day: date, at_least: int = 1) -> None:
    for dag_id in ("streaming_aggregation", "trend_detection", "reporting"):
        _wait(
            f"{dag_id} did not succeed for {day} ({at_least}x)",
            lambda dag_id=dag_id: _succeeded(api, dag_id, day.isoformat(), at_least),
        )


def _report_link(api, run_id: str, ending: str, timeout_s: float = 60) -> str:
    path = f"/dags/reporting/dagRuns/{run_id}/taskInstances/build/links"
    url = _wait(
        f"the reporting run's link to {ending}",
        lambda: (
            (api.request("GET", path).json()["extra_links"].get("Daily report") or "").endswith(
                ending
            )
            and api.request("GET", path).json()["extra_links"]["Daily report"]
        ),
        timeout_s,
    )
    # A path on the UI's own host, so it follows the UI to any host or port.
    assert url.startswith("/reports/"), url
    return str(api.base + url)


def _trends(engine, day: date) -> dict:
    with engine.connect() as connection:
        return {
            (row.entity_type, row.entity_id): (row.kind, row.plays, row.significant)
            for row in connection.execute(
                select(listening_trends).where(listening_trends.c.day == day)
            )
        }


def test_an_announced_day_runs_the_chain_by_its_partition_key(chain, api) -> None:
    _announce(api, DAY)

    _chain_done(api, DAY)
    (weekly,) = _wait("weekly_reporting did not succeed for W38",
                      lambda: _succeeded(api, "weekly_reporting", WEEK_KEY))  # fmt: skip
    assert weekly["partition_key"] == WEEK_KEY
    # The new track is new; the artist went from 100 to 400 plays a day: rising.
    assert _trends(chain, DAY) == {
        ("track", TRACK): ("new", 300, True),
        ("artist", ARTIST): ("rising", 400, True),
    }
    with chain.connect() as connection:
        labels = set(connection.execute(select(reports.c.kind, reports.c.label)).all())
    assert {("daily", str(DAY)), ("weekly", "2026-W38")} <= labels
    # The significant trends' event carries the day as its key, not a list of days.
    events = api.request(
        "GET", "/assets/events", params={"source_dag_id": "trend_detection"}
    ).json()["asset_events"]
    (significant,) = [
        e for e in events
        if e["source_task_id"] == "announce_significant" and e["partition_key"] == str(DAY)
    ]  # fmt: skip
    assert "days" not in significant["extra"] and significant["extra"]["significant"] == 2
    # content_generation is not partitioned: trend_detection started it.
    content = api.request("GET", "/dags/content_generation/dagRuns").json()["dag_runs"]
    assert any(run["dag_run_id"].startswith("trend_detection__") for run in content), content


def test_the_day_s_report_is_served_to_a_signed_in_user(chain, api) -> None:
    run = _wait(
        f"reporting did not succeed for {DAY}", lambda: _succeeded(api, "reporting", str(DAY))
    )[0]
    url = _report_link(api, run["dag_run_id"], f"/reports/daily/{DAY}/report.html")
    page = httpx.get(url, headers={"Authorization": f"Bearer {api.token}"}, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "400 plays by 400 listeners" in page.text
    extract = httpx.get(url.replace("report.html", "movers.csv"), cookies={"_token": api.token}, timeout=30)  # fmt: skip
    assert extract.status_code == 200 and TRACK in extract.text
    assert httpx.get(url, timeout=30).status_code == 401  # signed out: nothing
    index = httpx.get(url.split("/daily/")[0] + "/", cookies={"_token": api.token}, timeout=30)
    assert f'href="daily/{DAY}/report.html"' in index.text


def test_a_late_file_re_runs_its_day_and_its_week(chain, api, airflow_home) -> None:
    _first_chain(api)
    landing = airflow_home.objects_path / "landing" / "listening" / "late"
    landing.mkdir(parents=True, exist_ok=True)
    key = "landing/listening/late/2026-09-15.jsonl"
    late = [
        {"user_id": f"late-{i}", "track_id": TRACK, "ms_played": 120_000,
         "played_at": (midnight(DAY) + timedelta(hours=20, seconds=i)).isoformat()}
        for i in range(100)
    ]  # fmt: skip
    (airflow_home.objects_path / key).write_text("\n".join(map(json.dumps, late)) + "\n")
    assert _set_paused(api, "listening_ingest", False)
    try:
        answer = api.request(
            "POST",
            "/dags/listening_ingest/dagRuns",
            json={"logical_date": None, "conf": {"sources": ["landing_files"]}},
        )
        assert answer.status_code == 200, answer.text
        _wait(f"{key} was not ingested", lambda: _ingested(chain, key))
    finally:
        _set_paused(api, "listening_ingest", True)

    _chain_done(api, DAY, at_least=2)
    _wait("the late day did not re-run its week",
          lambda: _succeeded(api, "weekly_reporting", WEEK_KEY, at_least=2))  # fmt: skip
    assert _trends(chain, DAY)[("track", TRACK)] == ("new", 400, True)
    with chain.connect() as connection:
        plays = connection.execute(
            select(agg_tracks.c.plays).where(
                agg_tracks.c.kind == "day",
                agg_tracks.c.period_start == midnight(DAY),
                agg_tracks.c.track_id == TRACK,
            )
        ).scalar_one()
    assert plays == 400
    # Only that day: the days after it were not re-run.
    assert not _runs(api, "streaming_aggregation", str(DAY + timedelta(days=1)))


def _ingested(engine, key: str) -> bool:
    with engine.connect() as connection:
        query = select(ingested_files.c.object_key).where(ingested_files.c.object_key == key)
        return connection.execute(query).first() is not None


def _written(engine) -> dict[str, list[tuple]]:
    """The backfilled days' aggregates and trends, without run ids and times."""
    days = [midnight(day) for day in BACKFILLED]
    written: dict[str, list[tuple]] = {}
    with engine.connect() as connection:
        for table in AGGREGATES:
            rows = connection.execute(select(table).where(table.c.period_start.in_(days)))
            written[table.name] = sorted((row[0], stored_utc(row[1]), *row[2:]) for row in rows)
        columns = [
            c for c in listening_trends.c if c.name not in ("run_id", "trace_id", "detected_at")
        ]
        query = select(*columns).where(listening_trends.c.day.in_(BACKFILLED))
        written["listening_trends"] = sorted(tuple(row) for row in connection.execute(query))
    return written


def _forget(engine) -> None:
    days = [midnight(day) for day in BACKFILLED]
    with engine.begin() as connection:
        for table in (*AGGREGATES, aggregation_periods):
            connection.execute(delete(table).where(table.c.period_start.in_(days)))
        connection.execute(delete(listening_trends).where(listening_trends.c.day.in_(BACKFILLED)))


def _trend_audits(engine) -> int:
    with engine.connect() as connection:
        query = select(func.count()).where(
            audit_log.c.action == "trends_detected",
            audit_log.c.entity_key.in_([day.isoformat() for day in BACKFILLED]),
        )
        return int(connection.execute(query).scalar_one())


def test_a_backfill_of_three_days_writes_what_three_days_in_order_write(
    chain, api, running_airflow
) -> None:
    env, _ = running_airflow
    _first_chain(api)
    for day in BACKFILLED:  # as three midnights would, one after the other
        _announce(api, day)
    for day in BACKFILLED:
        _chain_done(api, day)
    in_order = _written(chain)
    assert len(in_order["agg_tracks"]) == 3 + 2  # the steady track each day, the new one twice
    audits = _trend_audits(chain)
    _forget(chain)

    backfill = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "backfill", "create",
         "--dag-id", "listening_days", "--from-date", str(BACKFILLED[0]),
         "--to-date", str(BACKFILLED[-1]), "--reprocess-behavior", "completed",
         "--max-active-runs", "1"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert backfill.returncode == 0, backfill.stdout[-2000:] + backfill.stderr[-2000:]
    _wait("the backfill's trends", lambda: _trend_audits(chain) >= audits + 3, timeout_s=420)
    for day in BACKFILLED:
        _chain_done(api, day, at_least=2)

    assert _written(chain) == in_order
