"""The daily aggregation: known answers, bad plays set aside, and the same result in every engine."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spotify_agent.analytics.aggregation import MAX_PLAY_MS, AmbiguousDimension, aggregate_day
from spotify_agent.analytics.engines import ENGINES
from spotify_agent.analytics.synthetic import day_bounds, write_listening_day

DAY = datetime(2026, 11, 25, tzinfo=UTC)
START, END = day_bounds(DAY)
TRACKS = pa.table({"track_id": ["t1", "t2", "t3"], "artist_id": ["a1", "a1", "a2"]})
LISTENERS = pa.table({"user_id": ["alice", "bob"], "country": ["SE", "BR"]})


def _events(rows: list[tuple[str, datetime, str, int | None]]) -> pa.Table:
    users, played, tracks, ms = zip(*rows, strict=True)
    return pa.table(
        {
            "user_id": pa.array(users, pa.string()),
            "played_at": pa.array(played, pa.timestamp("us", tz="UTC")),
            "track_id": pa.array(tracks, pa.string()),
            "ms_played": pa.array(ms, pa.int32()),
        }
    )


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


GOOD = [
    # alice, SE: two plays 30 minutes apart (one session), then one after a longer gap.
    ("alice", at(8), "t1", 200_000),
    ("alice", at(8.5), "t1", 29_999),  # a skip
    ("alice", at(9) + timedelta(microseconds=1), "t3", 30_000),  # not a skip; new session
    # bob, BR: the same track as alice, no duration known.
    ("bob", at(20), "t1", None),
    # carol has no country on record.
    ("carol", at(23.99), "t2", 100_000),
]


def _day(events: pa.Table):
    return aggregate_day(events, TRACKS, LISTENERS, day_start=START, day_end=END, now=END)


def _rows(result, name: str) -> list[dict]:
    return result.tables[name].to_pylist()


def test_a_small_day_gives_the_counts_a_person_would() -> None:
    result = _day(_events(GOOD))
    assert _rows(result, "artist_country") == [
        {"artist_id": "a1", "country": "BR", "plays": 1, "listeners": 1, "ms_played": 0, "timed_plays": 0, "skips": 0},
        {"artist_id": "a1", "country": "SE", "plays": 2, "listeners": 1, "ms_played": 229_999, "timed_plays": 2, "skips": 1},
        {"artist_id": "a1", "country": "ZZ", "plays": 1, "listeners": 1, "ms_played": 100_000, "timed_plays": 1, "skips": 0},
        {"artist_id": "a2", "country": "SE", "plays": 1, "listeners": 1, "ms_played": 30_000, "timed_plays": 1, "skips": 0},
    ]  # fmt: skip
    assert _rows(result, "tracks") == [
        {"track_id": "t1", "plays": 3, "listeners": 2},
        {"track_id": "t2", "plays": 1, "listeners": 1},
        {"track_id": "t3", "plays": 1, "listeners": 1},
    ]
    assert _rows(result, "users") == [
        {"user_id": "alice", "plays": 3, "ms_played": 259_999, "sessions": 2},
        {"user_id": "bob", "plays": 1, "ms_played": 0, "sessions": 1},
        {"user_id": "carol", "plays": 1, "ms_played": 100_000, "sessions": 1},
    ]
    assert _rows(result, "hours") == [
        {"hour": 8, "plays": 2},
        {"hour": 9, "plays": 1},
        {"hour": 20, "plays": 1},
        {"hour": 23, "plays": 1},
    ]
    assert result.plays == 5
    assert result.rejected.num_rows == 0


def test_bad_plays_are_set_aside_with_their_reason_and_change_nothing_else() -> None:
    bad = [
        ("alice", END + timedelta(minutes=1), "t1", 1_000),  # after `now`
        ("bob", START - timedelta(microseconds=1), "t1", 1_000),  # the day before
        ("bob", END, "t1", 1_000),  # the interval is half-open
        ("bob", at(10), "not-a-track", 1_000),
        ("bob", at(11), "t2", -5),
        ("bob", at(12), "t2", MAX_PLAY_MS + 1),
        ("alice", at(8), "t1", 200_000),  # the same play twice
    ]
    result = aggregate_day(
        _events(GOOD + bad), TRACKS, LISTENERS, day_start=START, day_end=END, now=END
    )
    assert result.rejected_counts == {
        "missing_field": 0,
        "in_future": 1,
        "outside_interval": 2,
        "unknown_track": 1,
        "negative_duration": 1,
        "absurd_duration": 1,
        "duplicate": 1,
    }
    kept_whole = result.rejected.to_pylist()
    assert {(row["track_id"], row["reason"]) for row in kept_whole} >= {
        ("not-a-track", "unknown_track"),
        ("t2", "negative_duration"),
    }
    clean = _day(_events(GOOD))
    assert {name: table for name, table in result.tables.items()} == dict(clean.tables)


def test_a_broken_copy_never_hides_the_good_play_and_missing_fields_are_named() -> None:
    rows = [
        ("alice", at(8), "t1", -5),  # a broken copy first...
        ("alice", at(8), "t1", 200_000),  # ...then the play itself: it counts
        ("alice", at(8), "t1", 1_000),  # a second good copy is the duplicate
        ("bob", None, "t1", 1_000),
    ]
    result = _day(_events(rows))  # type: ignore[arg-type]
    assert [(r["ms_played"], r["reason"]) for r in result.rejected.to_pylist()] == [
        (-5, "negative_duration"),
        (1_000, "duplicate"),
        (1_000, "missing_field"),
    ]
    assert _rows(result, "users") == [
        {"user_id": "alice", "plays": 1, "ms_played": 200_000, "sessions": 1}
    ]


def test_plays_at_the_same_microsecond_are_duplicates_only_of_the_same_track() -> None:
    rows = [
        ("alice", at(8), "t1", 200_000),
        ("alice", at(8), "t3", 100_000),  # another track at the same instant: a play
        ("alice", at(8), "t1", 5_000),  # t1 again, after t3: the duplicate
        ("bob", at(8), "t1", 1_000),  # another listener at the same instant: a play
    ]
    result = _day(_events(rows))
    assert [(r["user_id"], r["track_id"], r["reason"]) for r in result.rejected.to_pylist()] == [
        ("alice", "t1", "duplicate")
    ]
    assert _rows(result, "users") == [
        {"user_id": "alice", "plays": 2, "ms_played": 300_000, "sessions": 1},
        {"user_id": "bob", "plays": 1, "ms_played": 1_000, "sessions": 1},
    ]


def test_plays_apart_by_less_than_a_microsecond_are_not_duplicates() -> None:
    played = pa.array([at(8), at(8), at(8)], pa.timestamp("ns", tz="UTC"))
    played = pc.add(played, pa.array([0, 500, 0], pa.duration("ns")))
    events = pa.table(
        {
            "user_id": ["alice"] * 3,
            "played_at": played,
            "track_id": ["t1"] * 3,
            "ms_played": pa.array([1_000, 2_000, 4_000], pa.int32()),
        }
    )
    result = _day(events)
    assert [r["ms_played"] for r in result.rejected.to_pylist()] == [4_000]  # the exact repeat
    assert _rows(result, "users")[0]["plays"] == 2


def test_listening_time_past_two_to_the_31_ms_does_not_wrap(tmp_path: Path) -> None:
    # 800 fifty-minute plays of one artist in one country: 2.4e9 ms, past int32's 2.1e9.
    rows = [("alice", at(i / 40), "t1", 3_000_000) for i in range(800)]
    result = _day(_events(rows))
    (row,) = _rows(result, "artist_country")
    assert row["ms_played"] == 2_400_000_000
    for name, table in {"events": _events(rows), "tracks": TRACKS, "listeners": LISTENERS}.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    for engine in ENGINES.values():
        theirs = engine(*(tmp_path / f"{n}.parquet" for n in ("events", "tracks", "listeners")))
        assert theirs["artist_country"].equals(result.tables["artist_country"])


def test_two_listeners_sessions_never_run_together() -> None:
    # An interval of 2**32 - 1 us, each listener playing at its first and last microsecond: without
    # room for a session gap in the packed (listener, time) key, a listener's first play would
    # look 2 us after the last play of the listener coded just before.
    import uuid

    end = START + timedelta(microseconds=2**32 - 1)
    names = [f"listener-{uuid.uuid4()}" for _ in range(50)]
    listeners = pa.table({"user_id": names, "country": ["SE"] * len(names)})
    plays = [
        (name, at, "t1", 1_000) for name in names for at in (START, end - timedelta(microseconds=1))
    ]
    result = aggregate_day(_events(plays), TRACKS, listeners, day_start=START, day_end=end, now=end)
    assert {row["sessions"] for row in _rows(result, "users")} == {2}
    assert result.tables["users"].num_rows == len(names)


def test_a_track_named_twice_in_the_catalogue_is_refused() -> None:
    tracks = pa.table({"track_id": ["t1", "t1"], "artist_id": ["a1", "a2"]})
    with pytest.raises(AmbiguousDimension, match="appears more than once"):
        aggregate_day(_events(GOOD), tracks, LISTENERS, day_start=START, day_end=END, now=END)


def test_every_engine_gives_the_same_tables_as_ours(tmp_path: Path) -> None:
    data = write_listening_day(
        tmp_path, day=DAY, events=60_000, users=4_000, tracks=3_000, artists=300, seed=3
    )
    ours = aggregate_day(
        data.events, data.tracks, data.listeners, day_start=START, day_end=END, now=END
    )
    assert ours.plays == 60_000 and ours.rejected.num_rows == 0
    # The data has what makes engines disagree: listeners without a country, plays without a
    # duration, listeners with many sessions.
    assert any(row["country"] == "ZZ" for row in ours.tables["artist_country"].to_pylist())
    assert max(ours.tables["users"].column("sessions").to_pylist()) > 5
    for name, engine in ENGINES.items():
        theirs = engine(data.events, data.tracks, data.listeners)
        for table in ours.tables:
            assert theirs[table].equals(ours.tables[table]), (name, table)


def test_the_synthetic_day_is_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    def digest(folder: Path) -> str:
        data = write_listening_day(
            folder, day=DAY, events=5_000, users=500, tracks=200, artists=20, seed=5
        )
        files = (data.events, data.tracks, data.listeners)
        return hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    events = pq.read_table(tmp_path / "a" / "events.parquet")
    assert events.num_rows == 5_000
    assert events.schema.field("played_at").type == pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_an_empty_day_gives_empty_tables(tmp_path: Path, engine: str) -> None:
    empty = _events(GOOD).slice(0, 0)
    for name, table in {"events": empty, "tracks": TRACKS, "listeners": LISTENERS}.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    ours = aggregate_day(empty, TRACKS, LISTENERS, day_start=START, day_end=END, now=END)
    theirs = ENGINES[engine](
        *(tmp_path / f"{n}.parquet" for n in ("events", "tracks", "listeners"))
    )
    assert all(table.num_rows == 0 for table in ours.tables.values())
    for name, table in ours.tables.items():
        assert theirs[name].equals(table), name
