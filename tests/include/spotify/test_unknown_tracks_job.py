"""No play lost or counted twice between sources, on each warehouse backend, with the Spotify
emulator over real HTTP through the project's hook.

The tracks a landed file's plays name that the catalogue lacks are looked up before the plays are
stored: 50 per several-tracks call on the extended tier, one call each in development mode; ids
Spotify does not know are recorded and not asked again for a week; a 429 beyond the hook's cap
hands the retry to Airflow with nothing of the file stored, and the retry asks only what is
left. A day whose plays were set aside as ``unknown_track`` is announced again once the catalogue
knows the track, and its aggregation then counts them. A file's whole seconds and the API's
milliseconds of one play are one play, whichever source comes first."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from upath import UPath

from spotify_agent.analytics.streaming_aggregation import aggregate_listening
from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import RetryLater
from spotify_agent.maintenance.erasure import IngestGuard, erased_among
from spotify_agent.maintenance.erasure_keys import Keyring
from spotify_agent.spotify.listening_ingest import ingest_event_file, ingest_recently_played
from spotify_agent.spotify.track_lookup import ASK_AGAIN_AFTER
from spotify_agent.warehouse.schema import (
    agg_tracks,
    audit_log,
    catalogue_tracks,
    ingested_files,
    listening_events,
    quarantine,
)
from spotify_agent.warehouse.times import stored_utc
from spotify_agent_airflow.hooks import spotify as spotify_hook_module
from spotify_agent_airflow.operators.listening_ingest import catalogue_lookup
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.conftest import table_rows
from tests.include.spotify_emulator.spotipy_client import user_client

ATTEMPT = Attempt(
    "listening_ingest", "manual__lookup-test", "ef" * 16, task_id="ingest_file", try_number=1
)
AGGREGATE = Attempt("streaming_aggregation", "manual__agg", "cd" * 16, task_id="aggregate")
ERASED = partial(erased_among, key=Keyring(None))
GUARD = IngestGuard(Keyring(b"lookup-test-erasure-key-01"))
HISTORY_END = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CATALOG = CatalogSpec(
    seed=21,
    n_artists=20,
    n_users=2,
    events_per_user=120,
    history_end_ms=int(HISTORY_END.timestamp() * 1000),
)
CONN = "spotify_catalogue"
# Valid Spotify ids (22 base62 characters) that the emulator's catalogue does not hold.
NOBODY_KNOWS = ["0NoSuchTrack0000000001", "0NoSuchTrack0000000002"]
SCOPE = "user-read-private user-read-recently-played"


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    spotify_hook_module._TOKEN_CACHES.clear()
    yield
    spotify_hook_module._TOKEN_CACHES.clear()


@pytest.fixture(params=["extended", "development"])
def emulator(request) -> Iterator[EmulatorHandle]:
    with run_emulator(tier=request.param, catalog=CATALOG) as handle:
        yield handle


@pytest.fixture
def extended() -> Iterator[EmulatorHandle]:
    with run_emulator(tier="extended", catalog=CATALOG) as handle:
        yield handle


@pytest.fixture
def objects(tmp_path) -> UPath:
    root = UPath(str(tmp_path / "objects"))
    root.mkdir()
    return root


def _connect(monkeypatch, emulator: EmulatorHandle, **extra: Any):
    """The lookup the operator builds, through an Airflow connection to the emulator."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(emulator.connection(**extra)))
    return catalogue_lookup(CONN)


def _land(objects, name: str, plays: list[dict[str, Any]]) -> str:
    key = f"landing/listening/{name}.jsonl"
    path = objects / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps(play).encode() + b"\n" for play in plays))
    return key


def _play(track_id: str, played_at: str, user_id: str = "file-user", **extra: Any) -> dict:
    return {"user_id": user_id, "track_id": track_id, "played_at": played_at, **extra}


def _ingest(warehouse, objects, key: str, tracks=None, now: datetime = NOW):
    return ingest_event_file(
        warehouse, objects, key, ATTEMPT, guard=lambda: GUARD, tracks=tracks, now=now
    )


def _calls(emulator: EmulatorHandle, route: str) -> int:
    return sum(emulator.stats()["by_route"].get(route, {}).values())


def _marks(warehouse) -> list[tuple[str, str | None, str]]:
    rows = table_rows(warehouse, quarantine, source="spotify:track")
    return sorted((json.loads(row["payload"])["requested_id"], row["field"], row["reason"])
                  for row in rows)  # fmt: skip


# -- looking tracks up ----------------------------------------------------------------------------


def test_a_files_unknown_tracks_are_looked_up_as_the_tier_allows_and_stored_with_its_plays(
    warehouse, emulator, objects, monkeypatch
) -> None:
    named = emulator.track_ids()[:60]
    plays = [_play(t, f"2026-11-20T{n // 60:02d}:{n % 60:02d}:00Z") for n, t in enumerate(named)]
    plays += [_play(t, f"2026-11-20T09:0{n}:00Z") for n, t in enumerate(NOBODY_KNOWS)]
    key = _land(objects, "first", plays)
    emulator.reset_stats()

    ingested = _ingest(warehouse, objects, key, _connect(monkeypatch, emulator))

    catalogue = {row["track_id"]: row for row in table_rows(warehouse, catalogue_tracks)}
    assert set(catalogue) == set(named)
    for track_id in named:
        track = emulator.catalog.tracks[track_id]
        assert catalogue[track_id]["artist_id"] == track.artist_ids[0]
        assert catalogue[track_id]["name"] == track.name
    # Extended: ceil(62 / 50) several-tracks calls; development: one call per id.
    if emulator.tier == "extended":
        assert _calls(emulator, "GET /v1/tracks") == math.ceil(62 / 50)
        assert _calls(emulator, "GET /v1/tracks/{track_id}") == 0
    else:
        assert _calls(emulator, "GET /v1/tracks") == 0
        assert _calls(emulator, "GET /v1/tracks/{track_id}") == 62
    # What Spotify does not know is recorded, naming the field; its plays are stored all the same.
    assert _marks(warehouse) == [(t, "track_id", "unknown track id") for t in NOBODY_KNOWS]
    assert len(table_rows(warehouse, listening_events)) == 62
    assert ingested.counts["rows_written"] == 62
    assert ingested.counts["tracks_learned"] == 60
    assert ingested.counts["tracks_unknown_to_spotify"] == 2
    assert ingested.counts["spotify_calls"] == (2 if emulator.tier == "extended" else 62)
    assert ingested.as_dict()["partitions"] == ["2026-11-20"]
    (audit,) = table_rows(warehouse, audit_log, action="listening_file_ingested")
    assert audit["counts"] == ingested.counts


def test_ids_spotify_does_not_know_are_not_asked_again_within_a_week(
    warehouse, extended, objects, monkeypatch
) -> None:
    lookup = _connect(monkeypatch, extended)
    _ingest(warehouse, objects, _land(objects, "a", [_play(NOBODY_KNOWS[0], "2026-11-20T08:00:00Z")]),
            lookup)  # fmt: skip
    extended.reset_stats()
    known = extended.track_ids()[0]
    again = [_play(NOBODY_KNOWS[0], "2026-11-20T08:01:00Z"), _play(known, "2026-11-20T08:02:00Z")]

    ingested = _ingest(warehouse, objects, _land(objects, "b", again), lookup)

    # Only the track never asked is asked.
    assert _calls(extended, "GET /v1/tracks") == 1
    assert (ingested.counts["tracks_learned"], ingested.counts["tracks_not_asked_again"]) == (1, 1)
    later = NOW + ASK_AGAIN_AFTER + timedelta(hours=1)
    extended.reset_stats()
    third = [_play(NOBODY_KNOWS[0], "2026-11-20T08:03:00Z")]

    asked = _ingest(warehouse, objects, _land(objects, "c", third), lookup, now=later)

    assert _calls(extended, "GET /v1/tracks") == 1  # a week on, it is asked again
    assert asked.counts["tracks_unknown_to_spotify"] == 1
    (mark,) = table_rows(warehouse, quarantine, source="spotify:track")
    assert stored_utc(mark["quarantined_at"]) == later


def test_a_file_whose_tracks_are_all_known_reads_no_connection(warehouse, objects) -> None:
    with warehouse.begin() as connection:
        connection.execute(
            catalogue_tracks.insert(),
            [{"track_id": "4uLU6hMCjMI75M1A2tKUQC", "artist_id": "0Artist000000000000001",
              "artist_name": "A", "name": "T", "duration_ms": 1000, "updated_at": NOW}],
        )  # fmt: skip
    key = _land(objects, "known", [_play("4uLU6hMCjMI75M1A2tKUQC", "2026-11-20T08:00:00Z")])

    # The conn id names no connection: building the lookup would fail.
    ingested = _ingest(warehouse, objects, key, catalogue_lookup("spotify_not_defined"))

    assert ingested.counts["rows_written"] == 1 and "tracks_learned" not in ingested.counts


def test_a_long_retry_after_leaves_the_file_for_the_retry_which_asks_only_what_is_left(
    warehouse, objects, monkeypatch
) -> None:
    with run_emulator(tier="development", catalog=CATALOG) as emulator:
        named = emulator.track_ids()[:60]
        key = _land(objects, "limited", [
            _play(t, f"2026-11-20T{n // 60:02d}:{n % 60:02d}:00Z") for n, t in enumerate(named)
        ])  # fmt: skip
        lookup = _connect(monkeypatch, emulator, max_retry_after_s=5)
        # 55 lookups, then an hour's wait: longer than the hook waits.
        emulator.set_rate_limit(55, window_s=3600, retry_after_s=3600)

        with pytest.raises(RetryLater) as caught:
            _ingest(warehouse, objects, key, lookup)

        assert caught.value.retry_after_s == 3600 and CONN in str(caught.value)
        # Nothing of the file is stored, nor is it recorded as read; the first 50 tracks are.
        assert table_rows(warehouse, listening_events) == []
        assert table_rows(warehouse, ingested_files) == []
        assert len(table_rows(warehouse, catalogue_tracks)) == 50
        emulator.set_rate_limit(None)
        emulator.reset_stats()

        retried = _ingest(warehouse, objects, key, lookup)

        assert _calls(emulator, "GET /v1/tracks/{track_id}") == 10
        assert retried.counts["tracks_learned"] == 10 and retried.counts["rows_written"] == 60
        assert {row["track_id"] for row in table_rows(warehouse, catalogue_tracks)} == set(named)


# -- the days set aside come back -----------------------------------------------------------------


def test_a_day_set_aside_for_an_unknown_track_is_announced_and_counted_once_it_is_known(
    warehouse, extended, objects, monkeypatch, tmp_path
) -> None:
    track = extended.track_ids()[0]
    day = HISTORY_END.date() - timedelta(days=3)
    # Plays of a track nobody played through the API, landed while lookups were off.
    early = [_play(track, f"{day}T10:00:00Z", user_id=u) for u in ("ann", "bob")]
    first = _ingest(warehouse, objects, _land(objects, "early", early), tracks=None)
    assert first.as_dict()["partitions"] == [day.isoformat()]
    aggregated = aggregate_listening(warehouse, day, AGGREGATE, ERASED, scratch=tmp_path, now=NOW)
    assert aggregated.counts["rejected_unknown_track"] == 2
    assert _agg_tracks(warehouse, day) == []
    assert _set_aside(warehouse, day) == 2

    # A later file names the track again: the lookup learns it.
    later = [_play(track, "2026-11-20T07:00:00Z", user_id="cid")]
    learned = _ingest(
        warehouse, objects, _land(objects, "later", later), _connect(monkeypatch, extended)
    )

    # Its own day, and the day set aside: summarise announces both.
    assert learned.as_dict()["partitions"] == [day.isoformat(), "2026-11-20"]
    assert learned.counts["tracks_learned"] == 1 and learned.counts["days_re_run"] == 1
    again = aggregate_listening(warehouse, day, AGGREGATE, ERASED, scratch=tmp_path, now=NOW)
    assert again.counts.get("rejected_unknown_track", 0) == 0 and again.counts["plays"] == 2
    assert _agg_tracks(warehouse, day) == [(track, 2, 2)]
    assert _set_aside(warehouse, day) == 0
    # Once re-run, the day is not announced again by the next play of the track.
    next_play = [_play(track, "2026-11-20T07:30:00Z", user_id="cid")]
    after = _ingest(
        warehouse, objects, _land(objects, "next", next_play), _connect(monkeypatch, extended)
    )
    assert after.as_dict()["partitions"] == ["2026-11-20"]


def test_recently_played_re_announces_the_days_set_aside_for_the_tracks_it_brings(
    warehouse, extended, objects, monkeypatch, tmp_path
) -> None:
    user = extended.user_id
    newest = extended.catalog.plays[user][0]
    day = HISTORY_END.date() - timedelta(days=90)  # before the 50 plays recently-played gives
    early = [_play(newest.track_id, f"{day}T10:00:00Z", user_id="dan")]
    _ingest(warehouse, objects, _land(objects, "early", early), tracks=None)
    aggregate_listening(warehouse, day, AGGREGATE, ERASED, scratch=tmp_path, now=NOW)
    assert _set_aside(warehouse, day) == 1

    ingested = ingest_recently_played(
        warehouse, user_client(extended, monkeypatch, scope=SCOPE), ATTEMPT,
        spotify_conn_id="spotify_default", guard=GUARD, now=NOW,
    )  # fmt: skip

    assert day.isoformat() in ingested.as_dict()["partitions"]
    assert ingested.counts["days_re_run"] == 1


def _agg_tracks(warehouse, day) -> list[tuple]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    query = select(agg_tracks.c.track_id, agg_tracks.c.plays, agg_tracks.c.listeners).where(
        agg_tracks.c.kind == "day", agg_tracks.c.period_start == start
    )
    with warehouse.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(query))


def _set_aside(warehouse, day) -> int:
    rows = table_rows(warehouse, quarantine, source=f"streaming_aggregation:{day.isoformat()}")
    return sum(row["reason"] == "unknown_track" for row in rows)


# -- one play, whatever the source ----------------------------------------------------------------


def _latest_plays_as_a_file(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    """The user's 50 latest plays (what recently-played gives) as a file lands them: whole
    seconds, with how long each played."""
    plays = emulator.catalog.plays[emulator.user_id][:50]
    assert sum(play.played_at_ms % 1000 != 0 for play in plays) > 40, "milliseconds to drop"
    return [
        _play(
            play.track_id,
            datetime.fromtimestamp(play.played_at_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            user_id=emulator.user_id,
            ms_played=30_000,
        )
        for play in plays
    ]


def _recently(warehouse, emulator, monkeypatch):
    return ingest_recently_played(
        warehouse, user_client(emulator, monkeypatch, scope=SCOPE), ATTEMPT,
        spotify_conn_id="spotify_default", guard=GUARD, now=NOW,
    )  # fmt: skip


def test_a_play_from_a_file_then_from_recently_played_is_stored_once(
    warehouse, extended, objects, monkeypatch
) -> None:
    key = _land(objects, "same-plays", _latest_plays_as_a_file(extended))
    from_file = _ingest(warehouse, objects, key)

    from_api = _recently(warehouse, extended, monkeypatch)

    assert (from_file.counts["rows_written"], from_api.counts["rows_written"]) == (50, 0)
    assert from_api.counts["duplicates"] == 50
    events = table_rows(warehouse, listening_events)
    assert len(events) == 50
    # The first stored is kept: the file's whole seconds and its ms_played.
    assert {(e["source"], e["ms_played"]) for e in events} == {(key, 30_000)}
    assert from_api.as_dict()["partitions"] == []


def test_a_play_from_recently_played_then_from_a_file_is_stored_once(
    warehouse, extended, objects, monkeypatch
) -> None:
    from_api = _recently(warehouse, extended, monkeypatch)
    key = _land(objects, "same-plays", _latest_plays_as_a_file(extended))

    from_file = _ingest(warehouse, objects, key)

    assert (from_api.counts["rows_written"], from_file.counts["rows_written"]) == (50, 0)
    assert from_file.counts["duplicates"] == 50
    events = table_rows(warehouse, listening_events)
    assert len(events) == 50
    assert {e["source"] for e in events} == {"recently_played:spotify_default"}
    assert any(stored_utc(e["played_at"]).microsecond for e in events)  # the API's milliseconds
    assert from_file.as_dict()["partitions"] == []


def test_plays_a_second_apart_or_of_another_track_stay_two_plays(warehouse, objects) -> None:
    track, other = "4uLU6hMCjMI75M1A2tKUQC", "1uLU6hMCjMI75M1A2tKUQC"
    _ingest(warehouse, objects, _land(objects, "one", [_play(track, "2026-11-20T08:00:05.999Z")]))

    second = _ingest(warehouse, objects, _land(objects, "two", [
        _play(track, "2026-11-20T08:00:05Z"),  # the same play
        _play(track, "2026-11-20T08:00:06Z"),  # the next second: another play
        _play(other, "2026-11-20T08:00:05Z"),  # another track
        _play(track, "2026-11-20T08:00:05Z", user_id="someone-else"),
    ]))  # fmt: skip

    assert (second.counts["rows_written"], second.counts["duplicates"]) == (3, 1)


def test_a_file_and_recently_played_writing_the_same_play_at_once_store_it_once(
    warehouse,
) -> None:
    """The check for stored plays and the insert are one step per user: the second writer
    waits for the first to commit, then finds the play (a PostgreSQL advisory lock per user,
    SQLite's write lock)."""
    from spotify_agent.spotify.listening import ListeningEvent
    from spotify_agent.spotify.listening_store import write_events

    def event(played_at: str) -> ListeningEvent:
        return ListeningEvent.model_validate(_play("4uLU6hMCjMI75M1A2tKUQC", played_at))

    written, go = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def file_ingest() -> None:
        with warehouse.begin() as connection:
            results["file"] = write_events(
                connection, [event("2026-11-20T08:00:05Z")], source="f", run_id="r", at=NOW
            )
            written.set()
            go.wait(10)

    def api_ingest() -> None:
        with warehouse.begin() as connection:
            results["api"] = write_events(
                connection, [event("2026-11-20T08:00:05.250Z")], source="a", run_id="r", at=NOW
            )

    first = threading.Thread(target=file_ingest)
    first.start()
    assert written.wait(10)
    second = threading.Thread(target=api_ingest)
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second writer must wait for the first"
    go.set()
    first.join(10)
    second.join(20)
    assert (results["file"].new, results["api"].new, results["api"].duplicates) == (1, 0, 1)
    assert len(table_rows(warehouse, listening_events)) == 1
