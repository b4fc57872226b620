"""The aggregation's warehouse side on SQLite and PostgreSQL: the period's extract, and rows
replaced per period (a re-run writes the same, a day drops its partial)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from spotify_agent.analytics.store import (
    Period,
    aggregate_extract,
    extract,
    period_for,
    replace_period,
)
from spotify_agent.warehouse.schema import (
    agg_listeners,
    agg_tracks,
    aggregation_periods,
    catalogue_tracks,
    listener_profiles,
    listening_events,
)

DAY = datetime(2026, 10, 2, tzinfo=UTC)
TRACK, ARTIST = "0StoreTrack0000000001", "0StoreArtist000000001"


def _seed(connection) -> None:
    now = datetime.now(UTC)
    connection.execute(
        listening_events.insert(),
        [
            {"user_id": user, "played_at": DAY + timedelta(hours=h), "track_id": TRACK,
             "ms_played": 100_000, "source": "t", "run_id": "seed", "ingested_at": now}
            for user, h in (("u1", 1), ("u1", 5), ("u2", 13), ("u2", 25))
        ],
    )  # fmt: skip
    connection.execute(
        catalogue_tracks.insert(),
        [{"track_id": TRACK, "artist_id": ARTIST, "artist_name": "A", "name": "T",
          "duration_ms": 200_000, "updated_at": now}],
    )  # fmt: skip
    connection.execute(
        listener_profiles.insert(),
        [
            {"user_id": "u1", "country": "BR", "updated_at": now},
            {"user_id": "u2", "country": None, "updated_at": now},
        ],
    )


def _write(engine, period: Period, without: frozenset[str] = frozenset()) -> None:
    with tempfile.TemporaryDirectory() as folder, engine.connect() as connection:
        data = extract(connection, period, Path(folder))
        result = aggregate_extract(data, period, now=period.end)
    with engine.begin() as connection:
        replace_period(
            connection, period, result, run_id="r", trace_id="ab" * 16, at=DAY, without=without
        )


def _rows(engine, table) -> list[tuple]:
    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(table)))


def test_the_extract_holds_the_period_and_the_dimensions_it_needs(
    warehouse, tmp_path, monkeypatch
) -> None:
    import pyarrow.parquet as pq

    from spotify_agent.analytics import store

    monkeypatch.setattr(store, "_BATCH", 2)  # the plays are written a batch at a time
    with warehouse.begin() as connection:
        _seed(connection)
    with warehouse.connect() as connection:
        data = extract(connection, period_for(DAY, date(2026, 10, 2)), tmp_path / "day")
        empty = extract(connection, period_for(DAY, date(2026, 9, 2)), tmp_path / "empty")
    events, tracks, listeners = (
        pq.read_table(p) for p in (data.events, data.tracks, data.listeners)
    )
    assert sorted(events.column("user_id").to_pylist()) == ["u1", "u1", "u2"]  # 25 h is tomorrow
    assert {t.hour for t in events.column("played_at").to_pylist()} == {1, 5, 13}
    assert tracks.to_pylist() == [{"track_id": TRACK, "artist_id": ARTIST}]
    assert listeners.to_pylist() == [{"user_id": "u1", "country": "BR"}]  # no NULL country
    # A period without plays is an extract all the same: the schema, no rows.
    assert pq.read_table(empty.events).schema.equals(events.schema)
    assert pq.read_table(empty.events).num_rows == 0


def test_extracts_left_by_killed_tasks_are_swept_and_running_ones_kept(tmp_path) -> None:
    import os

    from spotify_agent.analytics.store import EXTRACT_PREFIX, STALE_EXTRACT, sweep_stale_extracts

    now = datetime.now(UTC)
    left = tmp_path / f"{EXTRACT_PREFIX}killed"
    running = tmp_path / f"{EXTRACT_PREFIX}running"
    someone_elses = tmp_path / "pytest-of-someone"
    for folder in (left, running, someone_elses):
        (folder / "events.parquet").parent.mkdir()
        (folder / "events.parquet").write_bytes(b"listener ids")
    long_ago = (now - STALE_EXTRACT - timedelta(minutes=1)).timestamp()
    for folder in (left, someone_elses):
        os.utime(folder, (long_ago, long_ago))
    assert sweep_stale_extracts(tmp_path, now=now) == [left]
    assert not left.exists() and running.exists() and someone_elses.exists()


def test_the_day_is_finished_an_hour_after_midnight_and_refreshed_until_then() -> None:
    yesterday = Period("day", DAY - timedelta(days=1), DAY)
    assert period_for(DAY + timedelta(hours=1)) == yesterday
    # The midnight run: the ingest of yesterday's last hour may still be running.
    assert period_for(DAY) == Period("partial", yesterday.start, DAY)
    assert period_for(DAY + timedelta(minutes=30)) == Period("partial", yesterday.start, DAY)
    assert period_for(DAY + timedelta(hours=2)) == Period("partial", DAY, DAY + timedelta(hours=2))


def test_only_a_day_never_written_is_caught_up(warehouse) -> None:
    from spotify_agent.analytics.store import missing_day

    today = Period("partial", DAY, DAY + timedelta(hours=5))
    with warehouse.connect() as connection:
        assert missing_day(connection, today) == Period("day", DAY - timedelta(days=1), DAY)
        assert missing_day(connection, Period("day", DAY, DAY + timedelta(days=1))) is None
    _write(warehouse, Period("day", DAY - timedelta(days=1), DAY))
    with warehouse.connect() as connection:
        assert missing_day(connection, today) is None


def test_a_late_partial_never_replaces_a_written_day_and_erased_listeners_are_left_out(
    warehouse,
) -> None:
    with warehouse.begin() as connection:
        _seed(connection)
    day = Period("day", DAY, DAY + timedelta(days=1))
    _write(warehouse, day, without={"u2"})
    assert [row[2] for row in _rows(warehouse, agg_listeners)] == ["u1"]
    written = _rows(warehouse, agg_tracks)
    _write(warehouse, Period("partial", DAY, DAY + timedelta(hours=3)))  # a cleared old run
    assert _rows(warehouse, agg_tracks) == written


def test_a_period_is_replaced_whole_and_the_day_drops_its_partial(warehouse) -> None:
    with warehouse.begin() as connection:
        _seed(connection)
    partial = period_for(DAY + timedelta(hours=12))
    assert partial == Period("partial", DAY, DAY + timedelta(hours=12))
    _write(warehouse, partial)
    assert [row[2:] for row in _rows(warehouse, agg_tracks)] == [(TRACK, 2, 1)]
    _write(warehouse, partial)  # the next hour's run of the same day, same data: same rows
    assert len(_rows(warehouse, agg_tracks)) == 1

    day = period_for(DAY + timedelta(days=1, hours=1))  # the 01:00 run
    assert day == Period("day", DAY, DAY + timedelta(days=1))
    _write(warehouse, day)
    first = {t.name: _rows(warehouse, t) for t in (agg_tracks, agg_listeners)}
    assert [row[0] for row in first["agg_tracks"]] == ["day"]
    assert [row[2:] for row in first["agg_tracks"]] == [(TRACK, 3, 2)]
    assert [row[2:] for row in first["agg_listeners"]] == [
        ("u1", 2, 200_000, 2),
        ("u2", 1, 100_000, 1),
    ]
    _write(warehouse, day)
    assert {t.name: _rows(warehouse, t) for t in (agg_tracks, agg_listeners)} == first
    with warehouse.connect() as connection:
        periods = connection.execute(
            select(aggregation_periods.c.kind, func.count()).group_by(aggregation_periods.c.kind)
        ).all()
    assert periods == [("day", 1)]
