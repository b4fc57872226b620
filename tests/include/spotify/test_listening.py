from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from spotify_agent.spotify.listening import (
    ListeningEvent,
    read_event_file,
    sha256_of,
    unique_events,
    validate_event,
)
from spotify_agent.spotify.listening_store import write_events

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TRACK = "4uLU6hMCjMI75M1A2tKUQC"


def _event(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {
        "user_id": "u1",
        "track_id": TRACK,
        "played_at": "2026-11-26T10:00:00Z",
        "ms_played": 1000,
    }
    event.update(fields)
    return event


def test_jsonl_good_lines_become_events_and_bad_lines_are_quarantined_with_their_line() -> None:
    lines = [
        json.dumps(_event()),
        '{"user_id": "u1", "track_id": ',  # truncated
        json.dumps(_event(track_id="not-an-id")),
        "",
        json.dumps(_event(played_at="2026-11-26T10:00:00")),  # no time zone
        json.dumps(_event(played_at="2031-01-01T00:00:00Z")),  # in the future
        json.dumps(_event(played_at="2026-11-26T10:03:00+01:00", ms_played=None)),
    ]
    batch = read_event_file("\n".join(lines).encode(), key="landing/listening/a.jsonl", now=NOW)
    assert [e.played_at.astimezone(UTC).isoformat() for e in batch.events] == [
        "2026-11-26T10:00:00+00:00",
        "2026-11-26T09:03:00+00:00",
    ]
    assert [(q.source, q.field) for q in batch.quarantined] == [
        ("landing/listening/a.jsonl:2", None),
        ("landing/listening/a.jsonl:3", "track_id"),
        ("landing/listening/a.jsonl:5", "played_at"),
        ("landing/listening/a.jsonl:6", "played_at"),
    ]
    assert batch.quarantined[0].payload == b'{"user_id": "u1", "track_id": '
    assert "outside 2008..now" in batch.quarantined[3].reason


def test_parquet_files_are_read_row_by_row() -> None:
    table = pa.table(
        {
            "user_id": ["u1", "u2"],
            "track_id": [TRACK, "bad"],
            "played_at": [
                datetime(2026, 11, 26, 9, tzinfo=UTC),
                datetime(2026, 11, 26, 9, tzinfo=UTC),
            ],
            "ms_played": [1, 2],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    batch = read_event_file(sink.getvalue(), key="k.parquet", now=NOW)
    assert [e.user_id for e in batch.events] == ["u1"]
    assert [(q.source, q.field) for q in batch.quarantined] == [("k.parquet:row2", "track_id")]


def test_an_unreadable_parquet_file_is_quarantined_whole() -> None:
    batch = read_event_file(b"PAR1 not really", key="broken.parquet", now=NOW)
    assert batch.events == []
    assert batch.quarantined[0].payload == {
        "object_key": "broken.parquet",
        "sha256": sha256_of(b"PAR1 not really"),
        "size_bytes": 15,
    }


def test_the_same_play_twice_is_one_event() -> None:
    first = validate_event(_event(), source="s", now=NOW)
    same_instant = validate_event(
        _event(played_at="2026-11-26T11:00:00+01:00"), source="s", now=NOW
    )
    assert isinstance(first, ListeningEvent) and isinstance(same_instant, ListeningEvent)
    assert unique_events([first, same_instant]) == [first]


def test_store_counts_new_and_duplicate_events_on_both_backends(warehouse) -> None:
    events = [
        validate_event(_event(played_at=f"2026-11-26T10:0{i}:00Z"), source="s", now=NOW)
        for i in range(3)
    ]
    assert all(isinstance(e, ListeningEvent) for e in events)
    with warehouse.begin() as connection:
        day = {date(2026, 11, 26)}  # the partition the new events change
        assert write_events(connection, events[:2], source="f1", run_id="r1", at=NOW) == (2, 0, day)  # type: ignore[arg-type]
        again = write_events(connection, [*events, events[2]], source="f2", run_id="r2", at=NOW)  # type: ignore[arg-type]
        assert again == (1, 3, day)
        # Nothing new: no partition changed.
        assert write_events(connection, events, source="f3", run_id="r3", at=NOW).days == set()  # type: ignore[arg-type]
        total = connection.exec_driver_sql("SELECT count(*) FROM listening_events").scalar_one()
    assert total == 3
