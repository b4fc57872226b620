"""Bad input, hardened: huge lines stored once, strict types, case-blind suffixes, no links."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from spotify_agent.core.quarantine import (
    MAX_INLINE_BYTES,
    RunRef,
    quarantine_items,
    stored_payload,
)
from spotify_agent.spotify.landing import is_event_file, refusal
from spotify_agent.spotify.listening import ListeningEvent, read_event_file, validate_event
from spotify_agent.spotify.listening_store import already_refused, refused_file
from spotify_agent.spotify.models import PlayHistory, Track, parse_objects
from spotify_agent.warehouse.schema import quarantine

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RUN = RunRef(dag_id="listening_ingest", run_id="r1", task_id="ingest_file", trace_id="b" * 32)
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
KEY = "landing/listening/big.jsonl"
FIFTY_MB = 50 * 1024 * 1024


def _event(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {
        "user_id": "u1",
        "track_id": TRACK,
        "played_at": "2026-11-26T10:00:00Z",
        "ms_played": 1000,
    }
    event.update(fields)
    return event


def _stored_bytes(connection) -> int:
    """Everything the quarantine rows hold, in characters."""
    return sum(
        len(row.payload) + len(row.reason) + len(row.source)
        for row in connection.execute(select(quarantine))
    )


# --- 1 and 2: a 50 MB line is stored once, in the object store, and found by its listener ----


@pytest.mark.parametrize(
    "line",
    [
        # Valid JSON with a 50 MB field: the validation error used to repeat it in the reason.
        json.dumps(_event(track_id="x" * FIFTY_MB)).encode(),
        # Not even JSON: a truncated 50 MB line.
        b'{"user_id": "u1", "track_id": "' + b"y" * FIFTY_MB,
    ],
    ids=["huge_field", "truncated"],
)
def test_a_50_mb_malformed_line_is_stored_once_in_the_object_store(
    warehouse, tmp_path: Path, line: bytes
) -> None:
    batch = read_event_file(line, key=KEY, now=NOW)
    [item] = batch.quarantined
    assert len(item.reason) < 200, item.reason[:300]
    objects = tmp_path / "objects"
    with warehouse.begin() as connection:
        assert quarantine_items(connection, [item], run=RUN, at=NOW, objects=objects) == 1
    with warehouse.connect() as connection:
        row = connection.execute(select(quarantine)).mappings().one()
        assert _stored_bytes(connection) < 1000
    # A line that parses is kept as its JSON (keys sorted); one that does not, byte for byte.
    parsed = isinstance(item.payload, dict)
    record = json.dumps(item.payload, sort_keys=True).encode() if parsed else line
    digest = hashlib.sha256(record).hexdigest()
    assert row["payload"] == ""
    assert row["payload_size_bytes"] == len(record)
    assert row["payload_object_key"] == f"quarantine/{digest}"
    assert row["payload_object_sha256"] == digest
    assert row["user_id"] == "u1"
    # The one copy, in the object store, gives the record back as it was.
    assert [p.name for p in (objects / "quarantine").iterdir()] == [digest]
    assert stored_payload(row, objects) == (json.loads(line) if parsed else line.decode())


def test_records_under_the_limit_and_callers_without_a_store_stay_inline(
    warehouse, tmp_path: Path
) -> None:
    big = _event(context_uri="z" * (MAX_INLINE_BYTES + 1))
    small = _event(track_id="short")
    with warehouse.begin() as connection:
        quarantine_items(
            connection,
            [
                validate_event(small, source="a", now=NOW),  # type: ignore[list-item]
                validate_event(big, source="b", now=NOW),  # type: ignore[list-item]
            ],
            run=RUN,
            at=NOW,
        )
    with warehouse.connect() as connection:
        rows = connection.execute(select(quarantine).order_by(quarantine.c.source)).mappings()
        rows = list(rows)
    assert [r["payload_object_key"] for r in rows] == [None, None]
    assert [stored_payload(r) for r in rows] == [small, big]
    assert [r["user_id"] for r in rows] == ["u1", "u1"]
    assert not (tmp_path / "objects").exists()


# --- 4: strict types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ms_played": True}, "ms_played"),
        ({"ms_played": "1000"}, "ms_played"),
        ({"ms_played": 1000.0}, "ms_played"),
    ],
)
def test_numbers_are_not_guessed_from_booleans_or_text(fields: dict, field: str) -> None:
    checked = validate_event(_event(**fields), source="s", now=NOW)
    assert not isinstance(checked, ListeningEvent), checked
    assert checked.field == field
    assert checked.reason.startswith(f"{field}: Input should be a valid integer")
    # The reason names the type, not the value.
    assert repr(fields[field]) not in checked.reason


def test_spotify_objects_refuse_text_numbers_and_numeric_booleans() -> None:
    track = {"id": TRACK, "name": "t", "duration_ms": 1000, "explicit": False}
    parsed = parse_objects(
        Track,
        [
            track,
            # The real API sends whole floats now and then (the captured responses): kept.
            {**track, "duration_ms": 2000.0},
            {**track, "duration_ms": "1000"},
            {**track, "duration_ms": True},
            {**track, "explicit": 1},
            {**track, "explicit": "false"},
        ],
        source="spotify:track",
    )
    assert [t.duration_ms for t in parsed.valid] == [1000, 2000]
    assert [q.field for q in parsed.quarantined] == [
        "duration_ms",
        "duration_ms",
        "explicit",
        "explicit",
    ]
    assert all("1000" not in q.reason for q in parsed.quarantined)
    play = parse_objects(
        PlayHistory, [{"track": track, "played_at": "2026-11-26T10:00:00Z"}], source="s"
    )
    assert len(play.valid) == 1


# --- 6: suffixes match whatever their case ---------------------------------------------------


def test_suffixes_match_case_insensitively_and_parquet_is_read_as_parquet() -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    assert all(is_event_file(n) for n in ("a.JSONL", "b.Json", "c.Parquet", "d.jsonl"))
    assert not any(is_event_file(n) for n in ("a.csv", "jsonl", "a.jsonl.tmp"))
    sink = io.BytesIO()
    pq.write_table(pa.table({k: [v] for k, v in _event().items()}), sink)
    batch = read_event_file(sink.getvalue(), key="landing/listening/E.PARQUET", now=NOW)
    assert len(batch.events) == 1 and not batch.quarantined


# --- 3: links and paths outside the landing folder are refused, unread ----------------------


def test_links_and_paths_outside_the_landing_folder_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    landing = root / "landing" / "listening"
    landing.mkdir(parents=True)
    (landing / "good.jsonl").write_text("{}")
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"user_id": "someone-else"}')
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.jsonl").write_text("{}")
    os.symlink(secret, landing / "outside.jsonl")
    os.symlink(landing / "good.jsonl", landing / "inside.jsonl")
    os.symlink(tmp_path / "missing", landing / "dangling.jsonl")
    os.symlink(outside, landing / "folder")

    def why(name: str) -> str | None:
        return refusal(root, f"landing/listening/{name}")

    assert why("good.jsonl") is None
    assert "symbolic link" in str(why("outside.jsonl"))
    assert "symbolic link" in str(why("inside.jsonl"))
    assert "symbolic link" in str(why("dangling.jsonl"))
    assert "outside landing/listening/" in str(why("folder/x.jsonl"))
    assert "not a plain path" in str(why("../../secret.jsonl"))
    assert "not a plain path" in str(refusal(root, "elsewhere/x.jsonl"))


def test_a_refusal_is_quarantined_once_as_a_reference(warehouse) -> None:
    key = "landing/listening/outside.jsonl"
    with warehouse.begin() as connection:
        assert already_refused(connection, [key]) == set()
        quarantine_items(connection, [refused_file(key, "a symbolic link")], run=RUN, at=NOW)
    with warehouse.connect() as connection:
        assert already_refused(connection, [key, "landing/listening/other.jsonl"]) == {key}
        count = connection.execute(select(func.count()).select_from(quarantine)).scalar_one()
        assert count == 1
        assert connection.execute(select(quarantine.c.field)).scalar_one() == "object_key"
