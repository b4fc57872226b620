"""GDPR erasure on a real warehouse (SQLite and PostgreSQL) and the S3 API server.

One user is seeded into every registered store next to a user who must survive; the erasure
must leave a search of every store empty, keep the other user whole, survive a crash midway,
and leave a restored pre-erasure backup empty once the erasure log is replayed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import make_url

from spotify_agent.core.audit import AuditRecord, pseudonymise, write_audit
from spotify_agent.core.objects import ensure_parent
from spotify_agent.core.quarantine import QuarantinedItem, RunRef, quarantine_items
from spotify_agent.maintenance.backup import make_backup, restore_into
from spotify_agent.maintenance.erasure import (
    ErasureIncomplete,
    InvalidRequest,
    RequestConflict,
    checked_user,
    complete_request,
    erase_stores,
    erased_among,
    log_entries,
    record_request,
    replay_erasures,
    request_of,
    verify_erased,
    waiting_requests,
    without_erased,
    write_log_object,
)
from spotify_agent.maintenance.erasure_keys import Keyring, key_id
from spotify_agent.maintenance.personal_data import (
    HOLDS_NO_USER_ID,
    REGISTRY,
    CachedRecommendations,
    LandedEventFiles,
    Place,
    mentions,
    user_hmac,
    without_user,
)
from spotify_agent.warehouse.schema import (
    agg_listeners,
    erasure_requests,
    erasure_steps,
    ingested_files,
    listener_profiles,
    listening_cursors,
    listening_events,
    metadata,
    recommendations,
)

NOW = datetime(2026, 11, 26, 9, tzinfo=UTC)
KEY = b"test-erasure-key-0123456789"
KEYS = Keyring(KEY)
GONE = "erase.me-1"  # the user to erase
KEPT = "erase.me-10"  # a user whose id contains GONE's: must survive untouched
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
RUN = RunRef(dag_id="listening_ingest", run_id="seed", task_id="seed", trace_id="ab" * 16)


# Recommendation keys under a prefix of this process's own: tests in other xdist workers erase
# the same ids at the same time in the same Redis database.
CACHE_PREFIX = f"recs-test-{os.getpid()}"
STORES = tuple(
    CachedRecommendations(CACHE_PREFIX) if isinstance(store, CachedRecommendations) else store
    for store in REGISTRY
)


def seed_cache(cache, prefix: str = CACHE_PREFIX) -> None:
    """Two recommendation sets (yesterday's and today's, behind the pointer) for both users."""
    from spotify_agent.ml.publish import publish
    from spotify_agent.ml.recommend import Recommendation

    for version in ("ease-1:2026-11-25:aaaa", "ease-1:2026-11-26:bbbb"):
        items = [
            Recommendation(user, 1, TRACK, 0.5, None, "Popular on the service right now")
            for user in (GONE, KEPT)
        ]
        publish(cache, version, items, prefix=prefix)


def _event(user_id: str, minute: int) -> dict[str, object]:
    return {"user_id": user_id, "track_id": TRACK, "played_at": f"2026-11-25T08:{minute:02d}:00Z"}


def _jsonl(rows: list[dict[str, object]], *extra: bytes) -> bytes:
    return b"".join([*(json.dumps(row).encode() + b"\n" for row in rows), *extra])


def _parquet(rows: list[dict[str, object]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def seed_everywhere(engine, objects, cache, cache_prefix: str = CACHE_PREFIX) -> set[str]:
    """Both users in every store; returns the names of the stores seeded."""
    seed_cache(cache, cache_prefix)
    files = {
        "landing/listening/2026/11/25/mixed.jsonl": _jsonl(
            [_event(GONE, 1), _event(KEPT, 2)], b'{"user_id": "erase.me-1", "track_\n'
        ),
        "landing/listening/2026/11/25/only-gone.jsonl": _jsonl([_event(GONE, 3)]),
        "landing/listening/2026/11/25/events.parquet": _parquet(
            [_event(GONE, 4), _event(KEPT, 5), _event(KEPT, 6)]
        ),
    }
    with engine.begin() as connection:
        for user_id in (GONE, KEPT):
            connection.execute(
                insert(listening_events),
                [
                    {
                        "user_id": user_id,
                        "played_at": NOW - timedelta(minutes=n),
                        "track_id": TRACK,
                        "source": "test",
                        "run_id": "seed",
                        "ingested_at": NOW,
                    }
                    for n in range(25)
                ],
            )
            connection.execute(
                insert(listening_cursors).values(
                    user_id=user_id, spotify_conn_id="spotify_default", after_ms=1, updated_at=NOW
                )
            )
            connection.execute(
                insert(listener_profiles).values(user_id=user_id, country="SE", updated_at=NOW)
            )
            connection.execute(
                insert(agg_listeners).values(
                    kind="day",
                    period_start=NOW.replace(hour=0, minute=0, second=0, microsecond=0),
                    user_id=user_id,
                    plays=25,
                    ms_played=0,
                    sessions=1,
                )
            )
            connection.execute(
                insert(recommendations).values(
                    model_id="ease-1", day=NOW.date(), user_id=user_id, rank=1,
                    track_id="4uLU6hMCjMI75M1A2tKUQC", score=0.5, because_track_id=None,
                    reason="Popular on the service right now", run_id="seed",
                    trace_id="0" * 32, created_at=NOW,
                )
            )  # fmt: skip
            write_audit(
                connection,
                [
                    AuditRecord(
                        action="listening_ingested",
                        dag_id="listening_ingest",
                        run_id="seed",
                        task_id="read_recently_played",
                        map_index=0 if user_id == GONE else 1,
                        try_number=1,
                        trace_id="ab" * 16,
                        actor="read_recently_played",
                        outcome="done",
                        occurred_at=NOW,
                        entity_type="user",
                        entity_key=pseudonymise(user_id, namespace="user"),
                    )
                ],
            )
        quarantine_items(
            connection,
            [
                QuarantinedItem("landing/listening/x.jsonl:3", _event(GONE, 7), "bad track"),
                QuarantinedItem(
                    "landing/listening/x.jsonl:4", b'{"user_id": "erase.me-1", "tr', "not JSON"
                ),
                QuarantinedItem(
                    # A JSON line in a broken encoding: kept as base64, still searched.
                    "landing/listening/x.jsonl:9",
                    b'{"user_id": "erase.me-1", "track_id": "\xff\xfe"}',
                    "not UTF-8",
                ),
                QuarantinedItem(f"spotify:recently_played:{GONE}", {"played_at": "x"}, "no track"),
                QuarantinedItem("landing/listening/x.jsonl:5", _event(KEPT, 8), "bad track"),
                QuarantinedItem(f"spotify:recently_played:{KEPT}", {"played_at": "y"}, "no track"),
            ],
            run=RUN,
            at=NOW,
        )
        for key, data in files.items():
            path = objects / key
            ensure_parent(path)
            path.write_bytes(data)
            connection.execute(
                insert(ingested_files).values(
                    object_key=key,
                    sha256=hashlib.sha256(data).hexdigest(),
                    size_bytes=len(data),
                    events=3,
                    duplicates=0,
                    quarantined=0,
                    run_id="seed",
                    ingested_at=NOW,
                )
            )
    return {
        "listening_events.user_id",
        "listening_cursors.user_id",
        "listener_profiles.user_id",
        "agg_listeners.user_id",
        "recommendations.user_id",
        "quarantine",
        "audit_log.entity_key",
        "cache:recommendations",
        "objects:landing/listening",
    }


def _open(connection, request_id: str, user_id: str, keyring: Keyring = KEYS) -> bool:
    return record_request(
        connection,
        request_id=request_id,
        user_id=user_id,
        keyring=keyring,
        requested_by="test",
        trace_id="cd" * 16,
        at=NOW,
    )[1]


def _found(engine, objects, user_id: str, cache=None) -> dict[str, int]:
    with engine.connect() as connection:
        place = Place(connection, objects, cache)
        return {store.name: store.find(place, user_id) for store in STORES}


def _insert_request(connection, request_id: str, user_id: str) -> None:
    """As a backend may write it, unchecked: the stores' matching is under test, not the id."""
    connection.execute(
        insert(erasure_requests).values(
            request_id=request_id,
            user_id=user_id,
            user_hmac=user_hmac(user_id, KEY),
            key_id=key_id(KEY),
            status="pending",
            requested_by_run="test",
            trace_id="cd" * 16,
            requested_at=NOW,
        )
    )


def _erase(engine, objects, cache, request_id: str = "req-1", user_id: str = GONE, stores=STORES):
    with engine.begin() as connection:
        if request_of(connection, request_id) is None:
            _insert_request(connection, request_id, user_id)
    erase_stores(
        engine,
        objects,
        request_id=request_id,
        user_id=user_id,
        run_id="erase",
        at=NOW,
        stores=stores,
        cache=cache,
    )
    verify_erased(
        engine, objects, request_id=request_id, user_id=user_id, stores=STORES, cache=cache
    )
    with engine.begin() as connection:
        receipt = complete_request(connection, request_id=request_id, at=NOW)
    write_log_object(objects, receipt.log_entry())
    return receipt


def test_the_registry_accounts_for_every_warehouse_table() -> None:
    registered = {
        name
        for store in REGISTRY
        if store.kind == "warehouse"
        for name in [store.name.split(".")[0]]
    }
    assert registered.isdisjoint(HOLDS_NO_USER_ID)
    unaccounted = set(metadata.tables) - registered - set(HOLDS_NO_USER_ID)
    assert not unaccounted, f"declare these tables in personal_data: {sorted(unaccounted)}"
    # A column named for a user in a table said to hold none is a registry mistake.
    for name in set(HOLDS_NO_USER_ID) - {"erasure_requests"}:
        assert not [c for c in metadata.tables[name].c if c.name.endswith("user_id")], name


def test_an_id_matches_only_as_a_whole_token() -> None:
    assert mentions('{"user_id": "erase.me-1"}', GONE)
    assert mentions("spotify:recently_played:erase.me-1", GONE)
    assert not mentions('{"user_id": "erase.me-10"}', GONE)
    assert not mentions('{"user_id": "xerase.me-1"}', GONE)


def test_seeded_stores_are_all_registered_stores(warehouse, objects, cache) -> None:
    seeded = seed_everywhere(warehouse, objects, cache)
    assert seeded == {store.name for store in REGISTRY}
    assert all(_found(warehouse, objects, GONE, cache).values())


def test_erasure_leaves_nothing_findable_and_the_other_user_whole(
    warehouse, objects, cache
) -> None:
    seed_everywhere(warehouse, objects, cache)
    before = _found(warehouse, objects, KEPT, cache)

    receipt = _erase(warehouse, objects, cache)

    assert _found(warehouse, objects, GONE, cache) == {store.name: 0 for store in STORES}
    assert _found(warehouse, objects, KEPT, cache) == before
    assert (
        receipt.counts
        == {
            "listening_events.user_id": 25,
            "listening_cursors.user_id": 1,
            "listener_profiles.user_id": 1,
            "agg_listeners.user_id": 1,
            "recommendations.user_id": 1,
            "quarantine": 4,
            "audit_log.entity_key": 1,
            "cache:recommendations": 2,  # yesterday's set and today's
            "objects:landing/listening": 4,  # two JSON lines (one broken), a one-line file, a Parquet row
        }
    )
    assert receipt.user_hmac == user_hmac(GONE, KEY) and GONE not in receipt.user_hmac
    with warehouse.connect() as connection:
        request = request_of(connection, "req-1")
        assert request["status"] == "completed" and request["user_id"] is None
        assert request["counts"] == receipt.counts
        assert waiting_requests(connection, first=None, limit=10) == []
        # The rewritten files are recorded, so listening_ingest does not read them again.
        recorded = dict(
            connection.execute(select(ingested_files.c.object_key, ingested_files.c.sha256)).all()
        )
    assert not (objects / "landing/listening/2026/11/25/only-gone.jsonl").exists()
    mixed = (objects / "landing/listening/2026/11/25/mixed.jsonl").read_bytes()
    assert mixed == _jsonl([_event(KEPT, 2)])
    assert recorded["landing/listening/2026/11/25/mixed.jsonl"] == hashlib.sha256(mixed).hexdigest()
    kept_rows = pq.read_table(
        io.BytesIO((objects / "landing/listening/2026/11/25/events.parquet").read_bytes())
    ).to_pylist()
    assert [row["user_id"] for row in kept_rows] == [KEPT, KEPT]
    entry = json.loads((objects / "gdpr/erasure-log" / "req-1.json").read_text())
    assert entry == {
        "request_id": "req-1",
        "user_hmac": receipt.user_hmac,
        "key_id": key_id(KEY),
        "erased_at": NOW.isoformat(),
    }


def test_a_crash_midway_resumes_with_the_stores_left(warehouse, objects, cache) -> None:
    seed_everywhere(warehouse, objects, cache)

    class StoreOutage(LandedEventFiles):
        """The store goes away after the first file is rewritten."""

        calls = 0

        def erase_part(self, place, part, user_id):
            StoreOutage.calls += 1
            if StoreOutage.calls > 1:
                raise ConnectionError("object store unreachable")
            return super().erase_part(place, part, user_id)

    broken = (*STORES[:-1], StoreOutage())
    with pytest.raises(ConnectionError):
        _erase(warehouse, objects, cache, stores=broken)
    with warehouse.connect() as connection:
        done = dict(
            connection.execute(
                select(erasure_steps.c.store, erasure_steps.c.erased).where(
                    erasure_steps.c.status == "done"
                )
            ).all()
        )
        assert request_of(connection, "req-1")["status"] == "pending"
    assert done == {
        store.name: count
        for store, count in zip(STORES[:-1], (25, 1, 1, 1, 1, 4, 1, 2), strict=True)
    }
    with warehouse.connect() as connection:
        started = connection.execute(
            select(erasure_steps.c.status, erasure_steps.c.erased).where(
                erasure_steps.c.store == "objects:landing/listening"
            )
        ).one()
    assert tuple(started) == ("started", 1)  # events.parquet (first in key order) was done
    assert (objects / "landing/listening/2026/11/25/only-gone.jsonl").exists()

    receipt = _erase(warehouse, objects, cache)  # the re-run: same request

    assert _found(warehouse, objects, GONE, cache) == {store.name: 0 for store in STORES}
    # Counts of the steps done before the crash are kept, not recounted as zero.
    assert receipt.counts["listening_events.user_id"] == 25
    assert receipt.counts["objects:landing/listening"] == 4


def test_data_arriving_during_erasure_fails_the_proof_and_is_erased_on_retry(
    warehouse, objects, cache
) -> None:
    from spotify_agent.ml.publish import publish
    from spotify_agent.ml.recommend import Recommendation

    seed_everywhere(warehouse, objects, cache)
    with warehouse.begin() as connection:
        _open(connection, "req-1", GONE)
    request = {"request_id": "req-1", "user_id": GONE, "stores": STORES, "cache": cache}
    erase_stores(warehouse, objects, run_id="r", at=NOW, **request)
    with warehouse.begin() as connection:  # an ingest run lands a late play meanwhile
        connection.execute(
            insert(listening_events).values(
                user_id=GONE,
                played_at=NOW,
                track_id=TRACK,
                source="late",
                run_id="late",
                ingested_at=NOW,
            )
        )
    # ...and a recommendation set computed before the request reaches Redis.
    late_set = [Recommendation(GONE, 1, TRACK, 0.5, None, "Popular on the service right now")]
    publish(cache, "ease-1:2026-11-27:cccc", late_set, prefix=CACHE_PREFIX)
    with pytest.raises(
        ErasureIncomplete, match=r"cache:recommendations: 1, listening_events\.user_id: 1"
    ):
        verify_erased(warehouse, objects, **request)

    again = erase_stores(warehouse, objects, run_id="r2", at=NOW, **request)

    assert again == {"cache:recommendations": 1, "listening_events.user_id": 1}
    verify_erased(warehouse, objects, **request)
    with warehouse.begin() as connection:
        receipt = complete_request(connection, request_id="req-1", at=NOW)
    assert receipt.counts["listening_events.user_id"] == 26  # both attempts' rows
    assert receipt.counts["cache:recommendations"] == 3


def test_an_unknown_user_completes_with_a_receipt_saying_nothing_was_found(
    warehouse, objects, cache
) -> None:
    seed_everywhere(warehouse, objects, cache)
    receipt = _erase(warehouse, objects, cache, request_id="req-unknown", user_id="never.seen")
    assert not receipt.found
    assert set(receipt.counts.values()) == {0}
    assert "no personal data" in receipt.summary()


def test_a_request_id_reused_for_another_user_is_refused(warehouse) -> None:
    with warehouse.begin() as connection:
        assert _open(connection, "r", GONE)
        assert not _open(connection, "r", GONE)
        with pytest.raises(RequestConflict, match="request_id"):
            _open(connection, "r", KEPT)


def test_a_restored_pre_erasure_backup_ends_without_the_user_after_replay(
    warehouse, database_url, objects, tmp_path, postgres_server_url, cache
) -> None:
    seed_everywhere(warehouse, objects, cache)
    with warehouse.begin() as connection:  # a request still open when the backup was taken
        _open(connection, "req-1", GONE)
    backup = make_backup(make_url(database_url), tmp_path)
    _erase(warehouse, objects, cache)

    url = make_url(database_url)
    if backup.suffix == "sqlite":
        target = url.set(database=str(tmp_path / "restored.db"))
    else:
        target = url.set(database=f"{url.database}_restored")
        admin = create_engine(make_url(postgres_server_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    restore_into(backup.path, suffix=backup.suffix, url=target)
    restored = create_engine(target)
    try:
        assert _found(restored, None, GONE)["listening_events.user_id"] == 25
        entries = log_entries(objects)  # the object store's copy alone is enough
        with restored.begin() as connection:
            counts = replay_erasures(connection, entries, keyring=KEYS, at=NOW)
        assert counts["users"] == 1
        assert counts["listening_events.user_id"] == 25 and counts["quarantine"] == 4
        warehouse_stores = [s.name for s in REGISTRY if s.kind == "warehouse"]
        found = _found(restored, None, GONE)
        assert {name: found[name] for name in warehouse_stores} == dict.fromkeys(
            warehouse_stores, 0
        )
        assert _found(restored, None, KEPT)["listening_events.user_id"] == 25
        with restored.connect() as connection:
            assert (
                connection.execute(
                    select(erasure_requests.c.user_id).where(
                        erasure_requests.c.request_id == "req-1"
                    )
                ).scalar_one()
                is None
            )
            # The log is back in the restored copy: ingestion keeps the user out of it too.
            assert erased_among(connection, [GONE, KEPT], key=KEY) == {GONE}
    finally:
        restored.dispose()
        if backup.suffix != "sqlite":
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE "{target.database}" WITH (FORCE)')
            admin.dispose()


def test_a_landed_file_loses_only_the_users_rows() -> None:
    broken = b'{"user_id": "erase.me-1", "tr\n'
    # Free text that is not one of our fields is not guessed at: that is how u1 spares u10.
    prose = b"a note about erase.me-1\n"
    data = _jsonl([_event(GONE, 1), _event(KEPT, 2)], broken, prose, b"\n")
    kept, removed = without_user(data, key="a.jsonl", user_id=GONE)
    assert removed == 2
    assert kept == _jsonl([_event(KEPT, 2)]) + prose + b"\n"
    parquet = _parquet([_event(GONE, 1), _event(KEPT, 2)])
    kept, removed = without_user(parquet, key="a.parquet", user_id=GONE)
    assert removed == 1
    assert pq.read_table(io.BytesIO(kept)).to_pylist() == [_event(KEPT, 2)]
    assert without_user(b"garbage", key="b.parquet", user_id=GONE) == (b"garbage", 0)


@pytest.mark.parametrize(
    "lookalike", ["user_id", "spotify", "played_at", "landing", TRACK, "00", "*", "erase.me-?"]
)
def test_an_id_that_looks_like_a_field_or_source_erases_nobody_else(
    warehouse, objects, lookalike, cache
) -> None:
    seed_everywhere(warehouse, objects, cache)
    before = {user: _found(warehouse, objects, user, cache) for user in (GONE, KEPT)}
    receipt = _erase(warehouse, objects, cache, request_id="req-x", user_id=lookalike)
    assert not receipt.found, receipt.counts
    assert {user: _found(warehouse, objects, user, cache) for user in (GONE, KEPT)} == before


def test_rows_a_backend_wrote_are_checked_before_anything_is_erased(warehouse) -> None:
    def row(request_id, user_id, digest):
        return {
            "request_id": request_id,
            "user_id": user_id,
            "user_hmac": digest,
            "status": "pending",
            "requested_by_run": "backend",
            "trace_id": "ef" * 16,
            "requested_at": NOW,
        }

    with warehouse.begin() as connection:
        connection.execute(
            insert(erasure_requests),
            [
                row("empty-hash", GONE, ""),
                row("bad-id", "", user_hmac("", KEY)),
                row("null-id", None, "x"),
                row("other-key", GONE, user_hmac(GONE, b"another-key-0123456789")),
            ],
        )
        filled = checked_user(connection, request_of(connection, "empty-hash"), keyring=KEYS)
        assert filled == GONE
        assert request_of(connection, "empty-hash")["user_hmac"] == user_hmac(GONE, KEY)
        assert request_of(connection, "empty-hash")["key_id"] == key_id(KEY)
        for request_id, problem in (
            ("bad-id", "user_id is not a Spotify user id"),
            ("null-id", "user_id is not a Spotify user id"),
            ("other-key", "user_hmac is not the id's hash"),
        ):
            with pytest.raises(InvalidRequest, match=problem):
                checked_user(connection, request_of(connection, request_id), keyring=KEYS)


def test_new_data_of_a_user_being_erased_is_dropped_before_it_is_stored(warehouse) -> None:
    from spotify_agent.spotify.listening import read_event_file

    data = _jsonl([_event(GONE, 1), _event(KEPT, 2)], b'{"user_id": "erase.me-1", "trac\n')
    batch = read_event_file(data, key="landing/listening/late.jsonl", now=NOW)
    with warehouse.begin() as connection:
        events, bad, erased = without_erased(connection, batch.events, batch.quarantined, key=KEY)
        assert (len(events), len(bad), erased) == (2, 1, set())
        # Recorded, not yet completed: already kept out.
        _open(connection, "r", GONE)
        events, bad, erased = without_erased(connection, batch.events, batch.quarantined, key=KEY)
    assert [e.user_id for e in events] == [KEPT] and bad == [] and erased == {GONE}


def test_a_numeric_user_id_column_in_parquet_is_compared_as_text() -> None:
    numeric = _parquet([{"user_id": 12345, "track_id": TRACK}, {"user_id": 123, "track_id": TRACK}])
    kept, removed = without_user(numeric, key="n.parquet", user_id="123")
    assert removed == 1
    assert pq.read_table(io.BytesIO(kept)).to_pylist() == [{"user_id": 12345, "track_id": TRACK}]
