"""The streaming_aggregation job without Airflow, on each warehouse backend: a finished day's
rows written and audited for the attempt, its bad plays quarantined naming the field, a re-run
writes the same, today's partition written as the day so far, two days at once touch only their
own rows, listeners being erased are left out, and a killed task's extract is swept."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import select

from spotify_agent.analytics.store import EXTRACT_PREFIX
from spotify_agent.analytics.streaming_aggregation import aggregate_listening
from spotify_agent.core.audit import Attempt
from spotify_agent.maintenance.erasure import erased_among
from spotify_agent.maintenance.erasure_keys import Keyring
from spotify_agent.warehouse.schema import (
    agg_listeners,
    agg_tracks,
    audit_log,
    catalogue_tracks,
    erasure_requests,
    listening_events,
    quarantine,
)

ATTEMPT = Attempt("streaming_aggregation", "manual__job-test", "cd" * 16, task_id="aggregate",
                  try_number=1)  # fmt: skip
ERASED = partial(erased_among, key=Keyring(None))
DAY = datetime(2026, 10, 1, tzinfo=UTC)
NOW = DAY + timedelta(days=1, hours=12)
TRACK, UNKNOWN, ARTIST = "0JobTrack000000000001", "0JobTrack000000000099", "0JobArtist00000000001"
THE_DAY = DAY.date()


def _plant(connection) -> None:
    plays = [
        # (user, hours after midnight of DAY, track, ms_played)
        ("job-ana", 8, TRACK, 200_000),
        ("job-ana", 20, TRACK, 100_000),
        ("job-ben", 9, UNKNOWN, 50_000),  # a track the catalogue does not know
        ("job-ben", 10, TRACK, -1),  # a broken duration
        ("job-cid", 11, TRACK, 90_000),
        ("job-ana", 24 + 2, TRACK, 60_000),  # the next day, so far
    ]
    connection.execute(
        listening_events.insert(),
        [
            {"user_id": user, "played_at": DAY + timedelta(hours=h), "track_id": track,
             "ms_played": ms, "source": "test", "run_id": "seed", "ingested_at": NOW}
            for user, h, track, ms in plays
        ],
    )  # fmt: skip
    connection.execute(
        catalogue_tracks.insert(),
        [{"track_id": TRACK, "artist_id": ARTIST, "artist_name": "A", "name": "T",
          "duration_ms": 200_000, "updated_at": NOW}],
    )  # fmt: skip


def _rows(engine, table, kind: str = "day", start: datetime = DAY) -> list[tuple]:
    columns = [c for c in table.c if c.name not in ("kind", "period_start")]
    query = select(*columns).where(table.c.kind == kind, table.c.period_start == start)
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(query))


def _all_rows(engine, table) -> list:
    """Every row, with its kind and period start, in a form comparable across backends."""
    from spotify_agent.warehouse.times import stored_utc

    with engine.connect() as connection:
        return [(row[0], stored_utc(row[1]), *row[2:]) for row in connection.execute(select(table))]


def _all(engine, table) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(table)).mappings()]


def test_a_finished_day_is_written_quarantined_and_audited_for_the_attempt(
    warehouse, tmp_path
) -> None:
    with warehouse.begin() as connection:
        _plant(connection)

    done = aggregate_listening(warehouse, THE_DAY, ATTEMPT, ERASED, scratch=tmp_path, now=NOW)

    assert _rows(warehouse, agg_tracks) == [(TRACK, 3, 2)]
    assert _rows(warehouse, agg_listeners) == [
        ("job-ana", 2, 300_000, 2),
        ("job-cid", 1, 90_000, 1),
    ]
    assert done.finished
    assert done.counts["plays"] == 3 and done.counts["quarantined"] == 2
    assert done.counts["rejected_unknown_track"] == 1
    assert done.counts["rejected_negative_duration"] == 1
    set_aside = _all(warehouse, quarantine)
    assert sorted((row["reason"], row["field"]) for row in set_aside) == [
        ("negative_duration", "ms_played"),
        ("unknown_track", "track_id"),
    ]
    assert {(row["run_id"], row["task_id"]) for row in set_aside} == {(ATTEMPT.run_id, "aggregate")}
    (audit,) = _all(warehouse, audit_log)
    assert (audit["action"], audit["entity_key"]) == ("listening_aggregated", "day:2026-10-01")
    assert (audit["task_id"], audit["try_number"], audit["trace_id"]) == ("aggregate", 1, "cd" * 16)
    assert audit["counts"] == done.counts
    assert done.as_dict() == {"kind": "day", "period_start": DAY.isoformat(), **done.counts}
    assert done.summary_line() == "day:2026-10-01: 3 plays, 7 rows, 2 quarantined"


class Ticking:
    """A clock that moves 5 s each time it is read: every step takes 5 s."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 5
        return self.now


def test_each_step_is_logged_with_time_and_rate(warehouse, tmp_path, caplog) -> None:
    with warehouse.begin() as connection:
        _plant(connection)
    caplog.set_level(logging.INFO, logger="spotify_agent.analytics.streaming_aggregation")

    aggregate_listening(
        warehouse, THE_DAY, ATTEMPT, ERASED, scratch=tmp_path, now=NOW, clock=Ticking()
    )

    assert [record.getMessage() for record in caplog.records] == [
        # the extract holds every play of the day, the bad ones too
        "day:2026-10-01: extracted 5 plays in 5 s, 1.0 plays/s",
        "day:2026-10-01: aggregated 5 plays in 5 s, 1.0 plays/s",
    ]


def test_a_re_run_writes_the_same_rows_and_sets_aside_nothing_twice(warehouse, tmp_path) -> None:
    with warehouse.begin() as connection:
        _plant(connection)
    first = aggregate_listening(warehouse, THE_DAY, ATTEMPT, ERASED, scratch=tmp_path, now=NOW)
    before = {t.name: _rows(warehouse, t) for t in (agg_tracks, agg_listeners)}

    again = aggregate_listening(warehouse, THE_DAY, ATTEMPT, ERASED, scratch=tmp_path, now=NOW)

    assert {t.name: _rows(warehouse, t) for t in (agg_tracks, agg_listeners)} == before
    assert len(_all(warehouse, quarantine)) == 2
    assert len(_all(warehouse, audit_log)) == 1  # the same attempt's action, replaced
    assert again == first


def test_today_is_written_as_the_day_so_far_and_its_bad_plays_wait(warehouse, tmp_path) -> None:
    with warehouse.begin() as connection:
        _plant(connection)
    today = (DAY + timedelta(days=1)).date()

    done = aggregate_listening(warehouse, today, ATTEMPT, ERASED, scratch=tmp_path, now=NOW)

    assert not done.finished  # announce_day announces nothing
    assert done.period.end == NOW
    assert _rows(warehouse, agg_tracks, "partial", DAY + timedelta(days=1)) == [(TRACK, 1, 1)]
    assert _rows(warehouse, agg_tracks) == []  # the day before is another partition
    assert done.counts["quarantined"] == 0


def test_two_days_at_once_write_what_each_writes_alone(warehouse, tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with warehouse.begin() as connection:
        _plant(connection)
    days = (THE_DAY, THE_DAY + timedelta(days=1))
    later = NOW + timedelta(days=1)  # both finished
    for day in days:
        aggregate_listening(warehouse, day, ATTEMPT, ERASED, scratch=tmp_path, now=later)
    alone = {
        t.name: sorted(map(tuple, _all_rows(warehouse, t))) for t in (agg_tracks, agg_listeners)
    }

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(
            lambda day: aggregate_listening(warehouse, day, ATTEMPT, ERASED, scratch=tmp_path, now=later),
            days,
        ))  # fmt: skip

    at_once = {
        t.name: sorted(map(tuple, _all_rows(warehouse, t))) for t in (agg_tracks, agg_listeners)
    }
    assert at_once == alone
    assert {row[1] for row in alone["agg_tracks"]} == {DAY, DAY + timedelta(days=1)}


def test_a_listener_being_erased_is_left_out_of_rows_and_quarantine(warehouse, tmp_path) -> None:
    with warehouse.begin() as connection:
        _plant(connection)
        connection.execute(
            erasure_requests.insert(),
            [{"request_id": "req-job", "user_id": "job-ben", "user_hmac": "", "status": "pending",
              "requested_by_run": "r", "trace_id": "0" * 32, "requested_at": NOW}],
        )  # fmt: skip

    done = aggregate_listening(warehouse, THE_DAY, ATTEMPT, ERASED, scratch=tmp_path, now=NOW)

    assert done.counts["erased_users_left_out"] == 1
    assert done.counts["quarantined"] == 0
    assert _all(warehouse, quarantine) == []
    assert "job-ben" not in {row[0] for row in _rows(warehouse, agg_listeners)}


def test_an_extract_left_by_a_killed_task_is_swept(warehouse, tmp_path) -> None:
    scratch = tmp_path / "scratch"
    stale = scratch / f"{EXTRACT_PREFIX}killed"
    stale.mkdir(parents=True)
    six_hours_ago = (NOW - timedelta(hours=7)).timestamp()
    os.utime(stale, (six_hours_ago, six_hours_ago))

    aggregate_listening(warehouse, THE_DAY, ATTEMPT, ERASED, scratch=scratch, now=NOW)

    assert not stale.exists()
    assert list(scratch.iterdir()) == []  # the run's own extract is gone too
