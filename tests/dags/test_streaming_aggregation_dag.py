"""streaming_aggregation under `airflow dags test` (no partition key, so `day` names the day):
the finished day replaces the day's partial, a re-run writes the same rows, bad plays are
quarantined, and conf is refused before a run, or by the first task when no day is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_hours,
    agg_listeners,
    agg_tracks,
    aggregation_periods,
    audit_log,
    catalogue_tracks,
    listener_profiles,
    listening_events,
    quarantine,
)

DAY = datetime(2026, 10, 1, tzinfo=UTC)
T1, T2, UNKNOWN = "0AggTrack000000000001", "0AggTrack000000000002", "0AggTrack000000000099"
A1 = "0AggArtist00000000001"


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


PLAYS = [
    # (user, played_at, track, ms_played)
    ("agg-ana", at(8), T1, 200_000),
    ("agg-ana", at(8.25), T2, 10_000),  # a skip, same session
    ("agg-ana", at(20), T1, 180_000),  # a new session, after the partial's noon
    ("agg-ben", at(9), T1, None),  # no duration known, no country on record
    ("agg-ben", at(13), UNKNOWN, 50_000),  # a track the catalogue does not know
    ("agg-ben", at(14), T2, -1),  # a broken duration
    ("agg-ben", DAY - timedelta(minutes=1), T1, 1_000),  # the day before: not this period
]


@pytest.fixture(scope="module")
def warehouse(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            listening_events.insert(),
            [
                {
                    "user_id": user,
                    "played_at": played_at,
                    "track_id": track,
                    "ms_played": ms,
                    "source": "test",
                    "run_id": "seed",
                    "ingested_at": now,
                }
                for user, played_at, track, ms in PLAYS
            ],
        )
        connection.execute(
            catalogue_tracks.insert(),
            [
                {"track_id": t, "artist_id": A1, "artist_name": "A", "name": t, "duration_ms": 200_000, "updated_at": now}
                for t in (T1, T2)
            ],
        )  # fmt: skip
        connection.execute(
            listener_profiles.insert(), [{"user_id": "agg-ana", "country": "SE", "updated_at": now}]
        )
    yield engine
    engine.dispose()


def _period_rows(engine, table, kind: str, start: datetime = DAY) -> list[tuple]:
    with engine.connect() as connection:
        columns = [c for c in table.c if c.name not in ("kind", "period_start")]
        return sorted(
            tuple(row)
            for row in connection.execute(
                select(*columns).where(table.c.kind == kind, table.c.period_start == start)
            )
        )


def _run(airflow_home, *args: str):
    result = airflow_home.airflow("dags", "test", "streaming_aggregation", *args)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


@pytest.fixture(scope="module")
def partial_then_day(airflow_home, warehouse):
    from functools import partial

    from spotify_agent.analytics.streaming_aggregation import aggregate_listening
    from spotify_agent.core.audit import Attempt
    from spotify_agent.maintenance.erasure import erased_among
    from spotify_agent.maintenance.erasure_keys import Keyring

    # The day's noon run, while it was today: its partial, from midnight to noon.
    attempt = Attempt("streaming_aggregation", "noon", "ab" * 16, task_id="aggregate", try_number=1)
    erased = partial(erased_among, key=Keyring(None))
    aggregate_listening(warehouse, DAY.date(), attempt, erased, now=at(12))
    partial_rows = {t.name: _period_rows(warehouse, t, "partial") for t in (agg_tracks, agg_hours)}
    _run(airflow_home, "--conf", '{"day": "2026-10-01"}')
    return partial_rows


def test_the_day_so_far_counts_up_to_its_run(partial_then_day) -> None:
    assert partial_then_day["agg_hours"] == [(8, 2), (9, 1)]
    assert partial_then_day["agg_tracks"] == [(T1, 2, 2), (T2, 1, 1)]


def test_only_the_day_named_is_written(warehouse, partial_then_day) -> None:
    # Sep 30 has a play (23:59) but is another partition: nobody asked for it.
    assert _period_rows(warehouse, agg_tracks, "day", DAY - timedelta(days=1)) == []


def test_the_day_replaces_its_partial_with_exact_counts(warehouse, partial_then_day) -> None:
    assert _period_rows(warehouse, agg_hours, "partial") == []
    assert _period_rows(warehouse, agg_artist_country, "day") == [
        (A1, "SE", 3, 1, 390_000, 3, 1),
        (A1, "ZZ", 1, 1, 0, 0, 0),
    ]
    assert _period_rows(warehouse, agg_tracks, "day") == [(T1, 3, 2), (T2, 1, 1)]
    assert _period_rows(warehouse, agg_listeners, "day") == [
        ("agg-ana", 3, 390_000, 2),
        ("agg-ben", 1, 0, 1),
    ]
    assert _period_rows(warehouse, agg_hours, "day") == [(8, 2), (9, 1), (20, 1)]


def test_bad_plays_are_quarantined_with_their_reason_and_counted(
    warehouse, partial_then_day
) -> None:
    with warehouse.connect() as connection:
        (rejected,) = connection.execute(
            select(aggregation_periods.c.rejected).where(
                aggregation_periods.c.kind == "day", aggregation_periods.c.period_start == DAY
            )
        ).scalars()
        reasons = sorted(
            connection.execute(
                select(quarantine.c.reason, quarantine.c.field).where(
                    quarantine.c.source == "streaming_aggregation:2026-10-01"
                )
            ).all()
        )
        audited = (
            connection.execute(
                select(audit_log.c.entity_key).where(audit_log.c.action == "listening_aggregated")
            )
            .scalars()
            .all()
        )
    assert rejected["unknown_track"] == 1 and rejected["negative_duration"] == 1
    assert sum(rejected.values()) == 2  # the play of the day before is simply not in the period
    assert reasons == [("negative_duration", "ms_played"), ("unknown_track", "track_id")]
    assert "day:2026-10-01" in audited and "partial:2026-10-01" in audited


def test_re_running_the_day_writes_the_same_rows(airflow_home, warehouse, partial_then_day) -> None:
    tables = (agg_artist_country, agg_tracks, agg_listeners, agg_hours)
    before = {t.name: _period_rows(warehouse, t, "day") for t in tables}
    with warehouse.connect() as connection:
        quarantined = len(connection.execute(select(quarantine.c.id)).all())
    _run(airflow_home, "--conf", '{"day": "2026-10-01"}')
    assert {t.name: _period_rows(warehouse, t, "day") for t in tables} == before
    with warehouse.connect() as connection:
        assert len(connection.execute(select(quarantine.c.id)).all()) == quarantined


def test_a_day_that_is_not_a_date_is_refused_before_the_run(airflow_home) -> None:
    result = airflow_home.dags_test("streaming_aggregation", {"day": "yesterday"})
    assert result.returncode != 0
    assert "Invalid input for param day" in result.stdout + result.stderr


def test_a_run_without_a_partition_key_or_a_day_fails_at_once_naming_day(airflow_home) -> None:
    result = airflow_home.dags_test("streaming_aggregation", {})
    assert result.returncode != 0
    assert "day: this run has no partition key" in result.stdout
    assert "up_for_retry" not in result.stdout.lower()


def test_a_day_in_the_future_fails_naming_the_field_and_writes_nothing(
    airflow_home, warehouse
) -> None:
    result = airflow_home.dags_test("streaming_aggregation", {"day": "2999-01-01"})
    assert result.returncode != 0
    assert "2999-01-01 is in the future" in result.stdout
    with warehouse.connect() as connection:
        starts = connection.execute(select(aggregation_periods.c.period_start)).scalars().all()
    assert all(start.year < 2999 for start in starts)
