"""The listening_ingest job without Airflow, on each warehouse backend.

A connected user's recently-played, read from the Spotify emulator over real HTTP: stored with
the tracks that came with it and the cursor, audited under the user's pseudonym, nothing stored
twice on a re-read, a damaged play quarantined naming the user, an erased user's account not
read at all. Files landed in a real object store (a folder, and S3): listed until read, their
events stored once, bad lines quarantined with file and line, a link refused unread and recorded
once, an erased user's rows dropped and the file rewritten without them, a large bad record kept
in the object store, a missing erasure key stopping the ingest before anything is stored."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import delete
from upath import UPath

from spotify_agent.core.audit import Attempt, pseudonymise
from spotify_agent.core.quarantine import MAX_INLINE_BYTES
from spotify_agent.maintenance.erasure import IngestGuard, record_request
from spotify_agent.maintenance.erasure_keys import Keyring, MissingErasureKey
from spotify_agent.spotify.listening_ingest import (
    ingest_event_file,
    ingest_recently_played,
    list_landing_files,
)
from spotify_agent.warehouse.schema import (
    audit_log,
    catalogue_tracks,
    ingested_files,
    listening_cursors,
    listening_events,
    quarantine,
)
from spotify_agent.warehouse.times import stored_utc
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.conftest import table_rows
from tests.include.spotify_emulator.spotipy_client import user_client

ATTEMPT = Attempt(
    "listening_ingest", "manual__job-test", "ab" * 16, task_id="ingest_file", try_number=1
)
HISTORY_END = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CATALOG = CatalogSpec(
    seed=21,
    n_artists=20,
    n_users=2,
    events_per_user=120,
    history_end_ms=int(HISTORY_END.timestamp() * 1000),
)
SCOPE = "user-read-private user-read-recently-played"
CONN = "spotify_default"
RECENTLY_PLAYED = "GET /v1/me/player/recently-played"
# Request 0 (the user's profile) is whole; request 1 (the plays) loses one track's ``id``. The
# decision for the n-th Web API request depends only on (seed, n): the same damage every run.
DAMAGED_PLAY_FAULTS = "rate=0.5,seed=47,kinds=missing_fields"
KEY = b"job-test-erasure-key-0123"
GUARD = IngestGuard(Keyring(KEY))
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
GONE = "erase.me-1"  # being erased
KEPT = "erase.me-10"  # an id that contains GONE's: must be kept
DAY = "landing/listening/2026-11-20"


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=CATALOG) as handle:
        yield handle


@pytest.fixture
def objects(tmp_path) -> UPath:
    root = UPath(str(tmp_path / "objects"))
    root.mkdir()
    return root


def _client(emulator: EmulatorHandle, monkeypatch) -> Any:
    """A user client holding only a refresh token, as a stored connection would."""
    return user_client(emulator, monkeypatch, scope=SCOPE)


def _recently_played(warehouse, client, **kwargs: Any):
    return ingest_recently_played(
        warehouse, client, ATTEMPT, spotify_conn_id=CONN, guard=GUARD, now=NOW, **kwargs
    )


def _ingest(warehouse, objects, key: str, guard: IngestGuard = GUARD):
    return ingest_event_file(warehouse, objects, key, ATTEMPT, guard=lambda: guard, now=NOW)


def _event(user_id: str, minute: int, **extra: Any) -> dict[str, Any]:
    played_at = f"2026-11-20T08:{minute:02d}:00Z"
    return {"user_id": user_id, "track_id": TRACK, "played_at": played_at, **extra}


def _jsonl(*events: dict[str, Any], tail: bytes = b"") -> bytes:
    return b"".join(json.dumps(event).encode() + b"\n" for event in events) + tail


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def _land(objects, key: str, data: bytes) -> str:
    path = objects / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key


def _erase(warehouse, user_id: str) -> None:
    """An erasure request recorded by the backend: from now on nothing new of the user is kept."""
    with warehouse.begin() as connection:
        record_request(
            connection,
            user_id=user_id,
            keyring=Keyring(KEY),
            requested_by="test",
            trace_id="cd" * 16,
            at=NOW,
        )


def _calls(emulator: EmulatorHandle, route: str) -> int:
    return sum(emulator.stats()["by_route"].get(route, {}).values())


# -- recently played ----------------------------------------------------------------------------


def test_a_users_plays_are_stored_with_their_tracks_and_cursor_and_audited_by_pseudonym(
    warehouse, emulator, monkeypatch
) -> None:
    user = emulator.user_id

    ingested = _recently_played(warehouse, _client(emulator, monkeypatch))

    events = table_rows(warehouse, listening_events, user_id=user)
    # Spotify keeps the latest 50 plays; the first read takes all of them.
    assert len(events) == 50
    assert {(e["source"], e["run_id"]) for e in events} == {
        (f"recently_played:{CONN}", ATTEMPT.run_id)
    }
    assert {e["ms_played"] for e in events} == {None}  # Spotify does not say how long
    played = {e["track_id"] for e in events}
    catalogue = {
        row["track_id"]: row["artist_id"] for row in table_rows(warehouse, catalogue_tracks)
    }
    assert set(catalogue) == played
    assert all(catalogue[t] == emulator.catalog.tracks[t].artist_ids[0] for t in played)
    (cursor,) = table_rows(warehouse, listening_cursors)
    newest = max(play.played_at_ms for play in emulator.catalog.plays[user])
    assert (cursor["user_id"], cursor["spotify_conn_id"], cursor["after_ms"]) == (
        user,
        CONN,
        newest,
    )
    assert ingested.outcome == "stored"
    assert ingested.counts == {
        "rows_written": 50,
        "duplicates": 0,
        "quarantined": 0,
        "catalogue_tracks": len(played),
    }
    (audit,) = table_rows(warehouse, audit_log)
    assert (audit["action"], audit["entity_type"], audit["run_id"], audit["trace_id"]) == (
        "listening_ingested",
        "user",
        ATTEMPT.run_id,
        ATTEMPT.trace_id,
    )
    assert audit["entity_key"] == pseudonymise(user, namespace="user") != user
    assert audit["counts"] == ingested.counts
    # The days of the plays stored: the listening_events partitions summarise announces.
    days = sorted({stored_utc(e["played_at"]).date().isoformat() for e in events})
    assert ingested.as_dict() == {**ingested.counts, "partitions": days}
    assert ingested.summary_line() == (
        f"recently played via {CONN}: 50 rows written, {len(played)} catalogue tracks"
    )


def test_a_re_read_stores_nothing_twice(warehouse, emulator, monkeypatch) -> None:
    client = _client(emulator, monkeypatch)
    _recently_played(warehouse, client)
    stored, cursor = (
        table_rows(warehouse, listening_events),
        table_rows(warehouse, listening_cursors),
    )

    again = _recently_played(warehouse, client)
    with warehouse.begin() as connection:  # a lost cursor: every play comes back
        connection.execute(delete(listening_cursors))
    without_cursor = _recently_played(warehouse, client)

    # Nothing played since the cursor; then the same 50 plays, each already stored.
    assert (again.counts["rows_written"], again.counts["duplicates"]) == (0, 0)
    assert (without_cursor.counts["rows_written"], without_cursor.counts["duplicates"]) == (0, 50)
    assert table_rows(warehouse, listening_events) == stored
    assert table_rows(warehouse, listening_cursors) == cursor


def test_a_damaged_play_is_quarantined_naming_the_user_and_the_rest_stored(
    warehouse, emulator, monkeypatch
) -> None:
    client = _client(emulator, monkeypatch)
    emulator.set_faults(DAMAGED_PLAY_FAULTS)

    ingested = _recently_played(warehouse, client)

    user = emulator.user_id
    assert emulator.stats()["faults"] == {"missing_fields": 1}
    assert len(table_rows(warehouse, listening_events, user_id=user)) == 49
    (item,) = table_rows(warehouse, quarantine)
    assert (item["source"], item["field"], item["user_id"], item["run_id"]) == (
        f"spotify:recently_played:{user}",
        "track",
        user,  # how an erasure finds it
        ATTEMPT.run_id,
    )
    assert item["reason"].startswith("track.id: Field required")
    assert (ingested.counts["rows_written"], ingested.counts["quarantined"]) == (49, 1)
    assert table_rows(warehouse, audit_log)[-1]["counts"] == ingested.counts


def test_an_erased_users_account_is_not_read_and_nothing_of_theirs_is_kept(
    warehouse, emulator, monkeypatch
) -> None:
    _erase(warehouse, emulator.user_id)

    ingested = _recently_played(warehouse, _client(emulator, monkeypatch))

    assert (ingested.outcome, ingested.counts) == (
        "erased_user",
        {"rows_written": 0, "erased_user": 1},
    )
    assert _calls(emulator, RECENTLY_PLAYED) == 0
    # Not even a cursor: the row would hold the id again.
    for table in (listening_events, listening_cursors, catalogue_tracks, quarantine, audit_log):
        assert table_rows(warehouse, table) == [], table.name


# -- landed files -------------------------------------------------------------------------------


def test_landed_event_files_are_listed_until_read_and_again_when_changed(
    warehouse, objects
) -> None:
    jsonl = _land(objects, f"{DAY}/events.jsonl", _jsonl(_event(KEPT, 1)))
    parquet = _land(objects, f"{DAY}/events.parquet", _parquet([_event(KEPT, 2)]))
    capitals = _land(objects, f"{DAY}/MORE.JSONL", _jsonl(_event(KEPT, 3)))
    _land(objects, f"{DAY}/notes.txt", b"not events")

    listed = list_landing_files(warehouse, objects)
    for key in listed.keys:
        _ingest(warehouse, objects, key)
    after = list_landing_files(warehouse, objects)
    _land(objects, jsonl, _jsonl(_event(KEPT, 1), _event(KEPT, 4)))
    changed = list_landing_files(warehouse, objects)

    assert listed.keys == sorted([jsonl, parquet, capitals])
    assert listed.summary_line() == "3 landed files to read"
    assert after.keys == []
    assert changed.keys == [jsonl]
    assert len(table_rows(warehouse, listening_events)) == 3


def test_a_run_reads_at_most_its_limit_oldest_name_first(warehouse, objects) -> None:
    keys = [_land(objects, f"{DAY}/{name}.jsonl", _jsonl(_event(KEPT, 1))) for name in "cab"]

    listed = list_landing_files(warehouse, objects, limit=2)

    assert listed.keys == sorted(keys)[:2]
    assert listed.waiting == 3
    assert listed.summary_line() == "3 files waiting; this run reads the first 2"


def test_a_landed_file_stores_its_events_once_and_quarantines_bad_lines_by_line(
    warehouse, objects
) -> None:
    data = _jsonl(
        _event(KEPT, 1, ms_played=1000),
        _event(KEPT, 2, ms_played=2000),
        {**_event(KEPT, 3), "track_id": "not-a-track"},
        tail=b"{broken\n",
    )
    key = _land(objects, f"{DAY}/events.jsonl", data)
    # The first row repeats a JSON Lines event: it is stored once.
    parquet = _land(objects, f"{DAY}/events.parquet", _parquet([_event(KEPT, 1), _event(KEPT, 9)]))

    first = _ingest(warehouse, objects, key)
    second = _ingest(warehouse, objects, parquet)
    again = _ingest(warehouse, objects, key)
    copy = _ingest(warehouse, objects, _land(objects, f"{DAY}/copy.jsonl", data))

    assert first.counts == {
        "rows_written": 2,
        "duplicates": 0,
        "quarantined": 2,
        "erased_user_rows_dropped": 0,
    }
    bad = [(row["source"], row["field"]) for row in table_rows(warehouse, quarantine)]
    assert sorted(item for item in bad if item[0].startswith(f"{key}:")) == [
        (f"{key}:3", "track_id"),
        (f"{key}:4", None),
    ]
    assert (second.counts["rows_written"], second.counts["duplicates"]) == (1, 1)
    assert (again.outcome, again.counts) == ("skipped", {"rows_written": 0, "skipped_files": 1})
    assert (copy.counts["rows_written"], copy.counts["duplicates"]) == (0, 2)
    assert len(table_rows(warehouse, listening_events)) == 3
    recorded = table_rows(warehouse, ingested_files, object_key=key)
    assert [
        (r["sha256"], r["size_bytes"], r["events"], r["quarantined"], r["run_id"]) for r in recorded
    ] == [(hashlib.sha256(data).hexdigest(), len(data), 2, 2, ATTEMPT.run_id)]
    audits = table_rows(warehouse, audit_log, action="listening_file_ingested")
    assert {row["entity_key"]: row["counts"] for row in audits} == {
        key: first.counts,
        parquet: second.counts,
        f"{DAY}/copy.jsonl": copy.counts,
    }


def test_a_link_is_refused_unread_and_recorded_once(warehouse, objects, tmp_path) -> None:
    outside = tmp_path / "outside-landing.jsonl"
    outside.write_bytes(_jsonl(_event("outside-user", 1)))
    (objects / DAY).mkdir(parents=True)
    os.symlink(outside, str(objects / DAY / "linked.jsonl"))
    link = f"{DAY}/linked.jsonl"

    listed = list_landing_files(warehouse, objects)
    refused = _ingest(warehouse, objects, link)
    relisted = list_landing_files(warehouse, objects)
    escaping = _ingest(warehouse, objects, "landing/listening/../secrets.jsonl")

    assert listed.keys == [link]
    assert (refused.outcome, refused.counts) == (
        "refused",
        {"rows_written": 0, "refused_files": 1, "quarantined": 1},
    )
    assert table_rows(warehouse, listening_events) == []
    item = table_rows(warehouse, quarantine, source=link)[0]
    assert (item["field"], item["reason"], json.loads(item["payload"])) == (
        "object_key",
        "a symbolic link, not a file: not read",
        {"object_key": link},  # a reference, nothing of the content
    )
    assert relisted.keys == []
    assert escaping.outcome == "refused"
    reasons = {row["source"]: row["reason"] for row in table_rows(warehouse, quarantine)}
    assert reasons["landing/listening/../secrets.jsonl"] == (
        "the key is not a plain path under landing/listening/: not read"
    )
    audits = table_rows(warehouse, audit_log, action="listening_file_refused")
    assert {row["entity_key"]: row["counts"] for row in audits}[link] == refused.counts


def test_a_file_gone_since_it_was_listed_is_skipped(warehouse, objects) -> None:
    key = _land(objects, f"{DAY}/events.jsonl", _jsonl(_event(KEPT, 1)))
    (listed,) = list_landing_files(warehouse, objects).keys
    (objects / key).unlink()

    gone = _ingest(warehouse, objects, listed)

    assert (gone.outcome, gone.counts) == ("skipped", {"rows_written": 0, "skipped_files": 1})
    assert table_rows(warehouse, ingested_files) == [] and table_rows(warehouse, audit_log) == []


def test_an_erased_users_rows_are_dropped_and_the_file_rewritten_without_them(
    warehouse, objects
) -> None:
    _erase(warehouse, GONE)
    mixed = _land(
        objects,
        f"{DAY}/mixed.jsonl",
        _jsonl(
            _event(GONE, 1),
            _event(KEPT, 2),
            _event(GONE, 3),
            tail=b'{"user_id": "erase.me-1", "trac\n',
        ),
    )
    only_gone = _land(objects, f"{DAY}/only-gone.parquet", _parquet([_event(GONE, 4)]))

    kept = _ingest(warehouse, objects, mixed)
    emptied = _ingest(warehouse, objects, only_gone)

    assert kept.counts == {
        "rows_written": 1,
        "duplicates": 0,
        "quarantined": 0,  # the broken line names the erased user: dropped, not kept
        "erased_user_rows_dropped": 3,
    }
    assert [row["user_id"] for row in table_rows(warehouse, listening_events)] == [KEPT]
    assert table_rows(warehouse, quarantine) == []
    rewritten = (objects / mixed).read_bytes()
    assert rewritten == _jsonl(_event(KEPT, 2))
    (record,) = table_rows(warehouse, ingested_files, object_key=mixed)
    assert (record["sha256"], record["size_bytes"]) == (
        hashlib.sha256(rewritten).hexdigest(),
        len(rewritten),
    )
    # A file left empty is deleted; its record says what was read.
    assert emptied.counts["erased_user_rows_dropped"] == 1
    assert not (objects / only_gone).exists()
    (record,) = table_rows(warehouse, ingested_files, object_key=only_gone)
    assert (record["size_bytes"], record["events"]) == (0, 0)
    # Recorded as rewritten: not listed again.
    assert list_landing_files(warehouse, objects).keys == []


def test_a_missing_erasure_key_stops_the_ingest_before_anything_is_stored(
    warehouse, objects
) -> None:
    read = _land(objects, f"{DAY}/read.jsonl", _jsonl(_event(KEPT, 1)))
    _ingest(warehouse, objects, read)
    _erase(warehouse, GONE)  # the warehouse now refers to KEY
    new = _land(objects, f"{DAY}/new.jsonl", _jsonl(_event(KEPT, 2)))
    keyless = IngestGuard(Keyring(None))

    # A file read before needs no check: the guard is not even asked.
    skipped = _ingest(warehouse, objects, read, guard=keyless)
    with pytest.raises(MissingErasureKey, match="the erasure log refers to key"):
        _ingest(warehouse, objects, new, guard=keyless)

    assert skipped.outcome == "skipped"
    assert len(table_rows(warehouse, listening_events)) == 1
    assert table_rows(warehouse, ingested_files, object_key=new) == []
    assert [row["entity_key"] for row in table_rows(warehouse, audit_log)] == [read]


def test_a_bad_record_over_64_kib_is_kept_in_the_object_store(warehouse, objects) -> None:
    huge = _event(KEPT, 1, context_uri="x" * (MAX_INLINE_BYTES + 10))
    key = _land(objects, f"{DAY}/huge.jsonl", _jsonl(huge, _event(KEPT, 2)))

    ingested = _ingest(warehouse, objects, key)

    assert (ingested.counts["rows_written"], ingested.counts["quarantined"]) == (1, 1)
    (item,) = table_rows(warehouse, quarantine)
    assert (item["source"], item["field"], item["user_id"]) == (f"{key}:1", "context_uri", KEPT)
    assert item["payload_object_key"].startswith("quarantine/")
    stored = (objects / item["payload_object_key"]).read_bytes()
    assert json.loads(stored) == huge


def test_landed_files_on_s3_are_listed_read_and_recorded(warehouse, s3_server) -> None:
    objects = UPath(
        f"s3://{s3_server.bucket}/listening/{secrets.token_hex(4)}",
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    )
    key = _land(objects, f"{DAY}/events.jsonl", _jsonl(_event(KEPT, 1), _event(KEPT, 2)))

    listed = list_landing_files(warehouse, objects)
    ingested = _ingest(warehouse, objects, key)

    assert listed.keys == [key]
    assert ingested.counts["rows_written"] == 2
    assert list_landing_files(warehouse, objects).keys == []
