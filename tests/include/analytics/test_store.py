"""The aggregation's warehouse side on SQLite and PostgreSQL: the period's extract, and rows
replaced per period (a re-run writes the same, a day drops its partial)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from spotify_agent.analytics.store import (
    Period,
    aggregate_extract,
    extract,
    period_of_day,
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
NEXT_WEEK = DAY + timedelta(days=7)
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
        data = extract(connection, period_of_day(date(2026, 10, 2), NEXT_WEEK), tmp_path / "day")
        empty = extract(connection, period_of_day(date(2026, 9, 2), NEXT_WEEK), tmp_path / "empty")
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


def test_a_day_is_finished_once_its_midnight_has_passed_and_so_far_until_then() -> None:
    the_day = DAY.date()
    assert period_of_day(the_day, DAY + timedelta(days=1)) == Period(
        "day", DAY, DAY + timedelta(days=1)
    )
    assert period_of_day(the_day, DAY + timedelta(days=9)) == Period(
        "day", DAY, DAY + timedelta(days=1)
    )
    # The day so far, up to the run's time.
    noon = DAY + timedelta(hours=12)
    assert period_of_day(the_day, noon) == Period("partial", DAY, noon)
    # A pendulum or other-zone time is the same instant.
    paris = timezone(timedelta(hours=2))
    assert period_of_day(the_day, noon.astimezone(paris)) == Period("partial", DAY, noon)


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
    partial = period_of_day(DAY.date(), DAY + timedelta(hours=12))
    assert partial == Period("partial", DAY, DAY + timedelta(hours=12))
    _write(warehouse, partial)
    assert [row[2:] for row in _rows(warehouse, agg_tracks)] == [(TRACK, 2, 1)]
    _write(warehouse, partial)  # the next hour's run of the same day, same data: same rows
    assert len(_rows(warehouse, agg_tracks)) == 1

    day = period_of_day(DAY.date(), DAY + timedelta(days=1, hours=1))  # once the day is over
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


# Values that trip columnar readers: text that needs quoting or escaping, the 32-bit extremes,
# NULLs, and microseconds either side of both midnights.
TRICKY_USERS = ("ünïcødé-用户-🎧", 'q"u,o\ttab\nline\\slash', "", "u1")
EDGES = (
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(days=1, microseconds=-1),
    timedelta(days=1),  # the next day
    timedelta(microseconds=-1),  # the day before
)


def _plant_tricky(connection) -> None:
    now = datetime.now(UTC)
    other = "0StoreTrack0000000002"
    plays = []
    for n, user in enumerate(TRICKY_USERS):
        for m, edge in enumerate(EDGES):
            ms = (None, 2_147_483_647, -2_147_483_648, 0, 123)[(n + m) % 5]
            plays.append(
                {"user_id": user, "played_at": DAY + edge, "track_id": (TRACK, other)[m % 2],
                 "ms_played": ms, "source": "t", "run_id": "seed", "ingested_at": now}
            )  # fmt: skip
    # Played in another time zone's notation: the same instant.
    plays.append(
        {"user_id": "u2", "played_at": datetime(2026, 10, 2, 5, tzinfo=timezone(timedelta(hours=5))),
         "track_id": "0StoreTrackUnknown0001", "ms_played": 1, "source": "t", "run_id": "seed",
         "ingested_at": now}
    )  # fmt: skip
    connection.execute(listening_events.insert(), plays)
    connection.execute(
        catalogue_tracks.insert(),
        [{"track_id": track, "artist_id": ARTIST, "artist_name": "Ä", "name": "T",
          "duration_ms": None, "updated_at": now}
         for track in (TRACK, other, "0StoreTrackNeverPlayed")],
    )  # fmt: skip
    connection.execute(
        listener_profiles.insert(),
        [{"user_id": user, "country": country, "updated_at": now}
         for user, country in ((TRICKY_USERS[0], "JP"), (TRICKY_USERS[1], None), ("", "ZA"),
                               ("u2", "BR"), ("never-played", "FR"))],
    )  # fmt: skip


def _reference(connection, period: Period) -> dict[str, object]:
    """The extract read the plain way: rows through SQLAlchemy, types set by hand."""
    import pyarrow as pa

    from spotify_agent.warehouse.times import stored_utc

    in_period = (listening_events.c.played_at >= period.start) & (
        listening_events.c.played_at < period.end
    )
    cols = listening_events.c
    plays = connection.execute(
        select(cols.user_id, cols.played_at, cols.track_id, cols.ms_played).where(in_period)
    ).all()
    tracks = {row.track_id for row in plays}
    users = {row.user_id for row in plays}
    catalogue = connection.execute(
        select(catalogue_tracks.c.track_id, catalogue_tracks.c.artist_id)
    )
    profiles = connection.execute(select(listener_profiles.c.user_id, listener_profiles.c.country))
    string, utc = pa.string(), pa.timestamp("us", tz="UTC")
    return {
        "events": pa.table(
            {
                "user_id": pa.array([r.user_id for r in plays], string),
                "played_at": pa.array([stored_utc(r.played_at) for r in plays], utc),
                "track_id": pa.array([r.track_id for r in plays], string),
                "ms_played": pa.array([r.ms_played for r in plays], pa.int64()),
            }
        ).sort_by([("user_id", "ascending"), ("played_at", "ascending")]),
        "tracks": pa.table(
            dict(zip(("track_id", "artist_id"), map(list, zip(*sorted(
                row for row in catalogue if row.track_id in tracks), strict=True)), strict=True)),
            schema=pa.schema([("track_id", string), ("artist_id", string)]),
        ),
        "listeners": pa.table(
            dict(zip(("user_id", "country"), map(list, zip(*sorted(
                row for row in profiles if row.user_id in users and row.country is not None),
                strict=True)), strict=True)),
            schema=pa.schema([("user_id", string), ("country", string)]),
        ),
    }  # fmt: skip


def _extracted(data) -> dict[str, object]:
    import pyarrow.parquet as pq

    keys = {"events": ["user_id", "played_at"], "tracks": ["track_id"], "listeners": ["user_id"]}
    return {
        name: pq.read_table(getattr(data, name)).sort_by([(k, "ascending") for k in keys[name]])
        for name in keys
    }


def test_the_columnar_extract_equals_a_plain_read_value_for_value(
    warehouse, tmp_path, monkeypatch
) -> None:
    from spotify_agent.analytics import store

    adbc_reads = []
    real = store._adbc_reader

    def spy(connection, snapshot):
        adbc_reads.append(snapshot)
        return real(connection, snapshot)

    monkeypatch.setattr(store, "_adbc_reader", spy)
    with warehouse.begin() as connection:
        _plant_tricky(connection)
    day = Period("day", DAY, DAY + timedelta(days=1))
    with warehouse.connect() as connection:
        expected = _reference(connection, day)
    with warehouse.connect() as connection:
        got = _extracted(extract(connection, day, tmp_path / "day"))
    # Through the ADBC driver on PostgreSQL, through the connection on SQLite.
    assert len(adbc_reads) == (warehouse.dialect.name == "postgresql")
    for name, table in expected.items():
        assert got[name].schema.equals(table.schema, check_metadata=True), name
        assert got[name].to_pylist() == table.to_pylist(), name
    assert got["events"].num_rows == 4 * 3 + 1
    assert got["events"].column("ms_played").null_count > 0
    assert {t.isoformat() for t in got["events"].column("played_at").to_pylist()} >= {
        "2026-10-02T00:00:00+00:00",
        "2026-10-02T23:59:59.999999+00:00",
    }
    assert [row["user_id"] for row in got["listeners"].to_pylist()] == ["", "u2", TRICKY_USERS[0]]


def test_the_extract_reads_the_callers_snapshot_and_its_own_writes(warehouse, tmp_path) -> None:
    """A play committed elsewhere after the caller's snapshot is not in the extract (the ADBC
    session imports that snapshot); a play the caller's own transaction wrote is."""
    import pyarrow.parquet as pq

    with warehouse.begin() as connection:
        _seed(connection)
    day = Period("day", DAY, DAY + timedelta(days=1))
    late = {"user_id": "u-late", "played_at": DAY + timedelta(hours=2), "track_id": TRACK,
            "ms_played": 1, "source": "t", "run_id": "seed", "ingested_at": DAY}  # fmt: skip
    serializable = warehouse.dialect.name == "postgresql"
    options = {"isolation_level": "REPEATABLE READ"} if serializable else {}
    with warehouse.connect().execution_options(**options) as reader:
        reader.execute(select(func.count()).select_from(listening_events))  # the snapshot
        if serializable:  # SQLite has one writer and no concurrent snapshots to compare
            with warehouse.begin() as writer:
                writer.execute(listening_events.insert(), [late])
        users = pq.read_table(extract(reader, day, tmp_path / "a").events).column("user_id")
        assert sorted(users.to_pylist()) == ["u1", "u1", "u2"]
        reader.rollback()
    with warehouse.connect() as connection:
        own = {**late, "user_id": "u-own", "played_at": DAY + timedelta(hours=3)}
        connection.execute(listening_events.insert(), [own])
        users = pq.read_table(extract(connection, day, tmp_path / "b").events).column("user_id")
        assert "u-own" in users.to_pylist()
        connection.rollback()
    with warehouse.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        users = pq.read_table(extract(connection, day, tmp_path / "c").events).column("user_id")
        assert sorted(users.to_pylist()) == sorted(["u1", "u1", "u2", *(["u-late"] * serializable)])


def test_rows_written_by_copy_keep_every_character_and_leave_out_the_erased(
    warehouse, tmp_path
) -> None:
    with warehouse.begin() as connection:
        _plant_tricky(connection)
    day = Period("day", DAY, DAY + timedelta(days=1))
    erased = TRICKY_USERS[1]
    with warehouse.connect() as connection:
        result = aggregate_extract(extract(connection, day, tmp_path / "x"), day, now=day.end)
    with warehouse.begin() as connection:
        replace_period(
            connection, day, result, run_id="r", trace_id="ab" * 16, at=DAY, without={erased}
        )
    for table, name in ((agg_listeners, "users"), (agg_tracks, "tracks")):
        expected = sorted(
            tuple(row.values())
            for row in result.tables[name].to_pylist()
            if row.get("user_id") != erased
        )
        assert [row[2:] for row in _rows(warehouse, table)] == expected, name
    written = {row[2] for row in _rows(warehouse, agg_listeners)}
    assert written == {*TRICKY_USERS} - {erased}  # "" stays "", never NULL
