"""Erasure under operator actions: rotating the key, a request by reference, restoring from the
object store alone after losing the warehouse, and an append-only erasure log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from spotify_agent.maintenance.backup import fingerprint, make_backup, upload
from spotify_agent.maintenance.backup_manifest import ErasureLogPosition, read_manifests
from spotify_agent.maintenance.backup_store import (
    BackupRecord,
    erasure_log_position,
    write_backup_manifest,
)
from spotify_agent.maintenance.erasure import (
    UnknownRequest,
    erased_among,
    log_entries,
    record_request,
    referenced_key_ids,
    stamp_legacy_entries,
    waiting_requests,
)
from spotify_agent.maintenance.erasure_keys import (
    Keyring,
    MissingErasureKey,
    UnstampedLogEntries,
    key_id,
)
from spotify_agent.maintenance.restore import RestoreRefused, restore_warehouse
from spotify_agent.warehouse.schema import erasure_log, erasure_requests, listening_events
from tests.include.maintenance.test_erasure import (
    GONE,
    KEPT,
    KEY,
    KEYS,
    NOW,
    STORES,
    _erase,
    _found,
    _open,
    seed_everywhere,
)

NEW_KEY = b"the-rotated-erasure-key-987654"
WAREHOUSE_STORES = [store.name for store in STORES if store.kind == "warehouse"]


def test_a_key_id_names_the_key_without_revealing_it() -> None:
    assert key_id(KEY) == key_id(KEY) != key_id(NEW_KEY)
    assert len(key_id(KEY)) == 16 and KEY.hex()[:8] not in key_id(KEY)


def test_after_rotation_the_erased_stay_out_and_a_dropped_old_key_fails_naming_it(
    warehouse, objects, cache
) -> None:
    seed_everywhere(warehouse, objects, cache)
    _erase(warehouse, objects, cache)  # under KEY
    rotated = Keyring(NEW_KEY, (KEY,), "gdpr_erasure_key")
    with warehouse.connect() as connection:
        assert erased_among(connection, [GONE, KEPT], key=rotated) == {GONE}
        # The operator replaced the key instead of rotating it: refused, never "nobody erased".
        with pytest.raises(MissingErasureKey) as refused:
            erased_among(connection, [GONE], key=Keyring(NEW_KEY, (), "gdpr_erasure_key"))
    assert key_id(KEY) in str(refused.value) and "gdpr_erasure_key" in str(refused.value)
    # New requests are hashed with the new key and say so.
    with warehouse.begin() as connection:
        _open(connection, "after-rotation", KEPT, keyring=rotated)
        row = connection.execute(
            select(erasure_requests.c.key_id).where(
                erasure_requests.c.request_id == "after-rotation"
            )
        ).scalar_one()
    assert row == key_id(NEW_KEY)


def test_a_request_by_reference_is_kept_out_at_once_and_unknown_references_fail(
    warehouse,
) -> None:
    with warehouse.begin() as connection:
        # A backend without the key: only the raw id, hashed later by gdpr_erasure.
        request_id, created = record_request(
            connection,
            user_id=GONE,
            keyring=None,
            requested_by="backend",
            trace_id="ab" * 16,
            at=NOW,
        )
        assert created and request_id.startswith("req-")
        assert erased_among(connection, [GONE, KEPT], key=Keyring(None)) == {GONE}
        assert waiting_requests(connection, first=request_id, limit=5) == [request_id]
        with pytest.raises(UnknownRequest, match="request_id: no erasure request 'typo'"):
            waiting_requests(connection, first="typo", limit=5)


def test_a_repeated_erasure_adds_to_the_log_and_never_overwrites(warehouse, objects, cache) -> None:
    seed_everywhere(warehouse, objects, cache)
    first = _erase(warehouse, objects, cache, request_id="first")
    second = _erase(warehouse, objects, cache, request_id="second")
    assert first.user_hmac == second.user_hmac
    names = sorted(path.name for path in (objects / "gdpr/erasure-log").iterdir())
    assert names == ["first.json", "second.json"]
    with warehouse.connect() as connection:
        assert [e.request_id for e in log_entries(objects, connection)] == ["first", "second"]


def test_entries_from_before_key_ids_are_refused_until_stamped(warehouse, objects, cache) -> None:
    seed_everywhere(warehouse, objects, cache)
    _erase(warehouse, objects, cache)
    # As an upgraded deployment's log looks: no key ids, objects named by the hash.
    with warehouse.begin() as connection:
        connection.execute(update(erasure_log).values(key_id=None))
        connection.execute(update(erasure_requests).values(key_id=None))
        digest = connection.execute(select(erasure_log.c.user_hmac)).scalar_one()
    (objects / "gdpr/erasure-log/req-1.json").unlink()
    legacy = {"user_hmac": digest, "request_id": "req-1", "erased_at": NOW.isoformat()}
    (objects / f"gdpr/erasure-log/{digest}.json").write_text(json.dumps(legacy))
    with warehouse.connect() as connection:
        with pytest.raises(UnstampedLogEntries, match="migrate-warehouse"):
            erased_among(connection, [GONE], key=KEYS)
    with warehouse.begin() as connection:
        assert stamp_legacy_entries(connection, objects, keyring=KEYS) == 3
        assert referenced_key_ids(connection) == [key_id(KEY)]
        assert erased_among(connection, [GONE, KEPT], key=KEYS) == {GONE}
    # The object store alone now names the key too (a stamped copy beside the old object).
    assert {entry.key_id for entry in log_entries(objects)} == {key_id(KEY)}


def _backup_to_store(warehouse, database_url: str, objects, tmp_path: Path, day) -> None:
    """What the backup task stores: the dump and its manifest, nothing in the warehouse needed."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    local = make_backup(make_url(database_url), tmp_path)
    key = f"backups/warehouse/{day.isoformat()}/warehouse.{local.suffix}"
    (objects / key).parent.mkdir(parents=True, exist_ok=True)
    size, sha256 = upload(local.path, objects / key)
    with warehouse.connect() as connection:
        position = erasure_log_position(connection)
    record = BackupRecord("warehouse", day, key, size, sha256, local.tables, "verified")
    write_backup_manifest(
        objects, record, run_id="backup", trace_id="ef" * 16, at=NOW, erasure_log=position
    )


def _target(database_url: str, tmp_path: Path, name: str):
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(tmp_path / f"{name}.db"))
    return url.set(database=f"{url.database}_{name}")


def _assert_nothing_left(target, tmp_path: Path) -> None:
    """A refused restore leaves no file (not even a .partial) and no database behind."""
    if target.get_backend_name() == "sqlite":
        assert list(tmp_path.glob(Path(target.database).name + "*")) == []
        return
    admin = create_engine(target.set(database="postgres"))
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT count(*) FROM pg_database WHERE datname = :name"),
            {"name": target.database},
        ).scalar_one()
    admin.dispose()
    assert exists == 0


def test_a_restore_from_the_object_store_alone_resurrects_nobody(
    warehouse, database_url, objects, cache, tmp_path
) -> None:
    seed_everywhere(warehouse, objects, cache)
    day = (NOW - timedelta(days=1)).date()
    _backup_to_store(warehouse, database_url, objects, tmp_path / "dump", day)
    _erase(warehouse, objects, cache)  # after the backup
    manifests, unreadable = read_manifests(objects, "warehouse")
    assert [m.backup_date for m in manifests] == [day] and unreadable == []
    assert manifests[0].erasure_log == ErasureLogPosition(0, [], None)

    # The warehouse is lost: no live connection, the key rotated since.
    target = _target(database_url, tmp_path, "restored")
    rotated = Keyring(NEW_KEY, (KEY,), "gdpr_erasure_key")
    result = restore_warehouse(
        objects, day=None, target=target, keyring=rotated, at=NOW + timedelta(hours=1)
    )
    assert (result.log_entries, result.logged_after_backup, result.users_erased_again) == (1, 1, 1)
    assert "replayed 1 erasures" in result.summary()
    restored = create_engine(target)
    try:
        found = _found(restored, None, GONE)
        assert {name: found[name] for name in WAREHOUSE_STORES} == dict.fromkeys(
            WAREHOUSE_STORES, 0
        )
        assert _found(restored, None, KEPT)["listening_events.user_id"] == 25
        with restored.connect() as connection:
            assert erased_among(connection, [GONE, KEPT], key=rotated) == {GONE}
            assert fingerprint(connection)  # a usable warehouse
    finally:
        restored.dispose()


def test_a_restore_without_the_key_refuses_and_leaves_nothing(
    warehouse, database_url, objects, cache, tmp_path
) -> None:
    seed_everywhere(warehouse, objects, cache)
    day = NOW.date()
    _backup_to_store(warehouse, database_url, objects, tmp_path / "dump", day)
    _erase(warehouse, objects, cache)
    target = _target(database_url, tmp_path, "refused")
    for keyring in (Keyring(None), Keyring(b"the-demo-key-somebody-reset-to")):
        with pytest.raises(RestoreRefused, match=key_id(KEY)):
            restore_warehouse(objects, day=day, target=target, keyring=keyring, at=NOW)
    _assert_nothing_left(target, tmp_path)


def test_a_restore_refuses_a_day_without_a_verified_backup(objects) -> None:
    with pytest.raises(RestoreRefused, match="no verified warehouse backup of 2026-01-01"):
        restore_warehouse(
            objects,
            day=datetime(2026, 1, 1, tzinfo=UTC).date(),
            target=make_url("sqlite:////nonexistent/x.db"),
            keyring=KEYS,
            at=NOW,
        )


def test_the_manifest_records_the_erasure_log_at_backup_time(warehouse, objects, cache) -> None:
    seed_everywhere(warehouse, objects, cache)
    _erase(warehouse, objects, cache)
    with warehouse.connect() as connection:
        position = erasure_log_position(connection)
        events = connection.execute(select(func.count()).select_from(listening_events)).scalar()
    assert position == ErasureLogPosition(1, [key_id(KEY)], NOW.isoformat())
    assert events == 25  # KEPT's plays only


def test_health_reports_a_key_the_log_needs_and_the_deployment_lacks(
    warehouse, database_url, objects, cache
) -> None:
    from spotify_agent.maintenance.health import check_erasure_keys

    assert check_erasure_keys(database_url, Keyring(None)).status == "off"
    seed_everywhere(warehouse, objects, cache)
    _erase(warehouse, objects, cache)
    lost = check_erasure_keys(database_url, Keyring(NEW_KEY))
    assert lost.status == "down" and key_id(KEY) in lost.detail
    held = check_erasure_keys(database_url, Keyring(NEW_KEY, (KEY,)))
    assert held.status == "up" and key_id(NEW_KEY) in held.detail


def test_an_upper_case_parquet_file_loses_the_users_rows_too() -> None:
    from spotify_agent.maintenance.personal_data import without_user
    from tests.include.maintenance.test_erasure import _event, _parquet

    data = _parquet([_event(GONE, 1), _event(KEPT, 2)])
    kept, removed = without_user(data, key="landing/listening/EVENTS.PARQUET", user_id=GONE)
    import io

    import pyarrow.parquet as pq

    assert removed == 1
    assert [row["user_id"] for row in pq.read_table(io.BytesIO(kept)).to_pylist()] == [KEPT]


def test_erasure_never_rewrites_a_file_a_link_points_at(tmp_path: Path) -> None:
    from spotify_agent.maintenance.personal_data import LandedEventFiles, Place

    outside = tmp_path / "outside.jsonl"
    outside.write_text(json.dumps({"user_id": GONE, "track_id": "t", "played_at": "x"}) + "\n")
    landing = tmp_path / "store/landing/listening"
    landing.mkdir(parents=True)
    (landing / "linked.jsonl").symlink_to(outside)
    store = LandedEventFiles()
    assert store.parts(Place(connection=None, objects=tmp_path / "store")) == []  # type: ignore[arg-type]
    assert GONE in outside.read_text()


def test_a_restore_refuses_an_unreadable_erasure_log(
    warehouse, database_url, objects, cache, tmp_path
) -> None:
    seed_everywhere(warehouse, objects, cache)
    day = NOW.date()
    _backup_to_store(warehouse, database_url, objects, tmp_path / "dump", day)
    (objects / "gdpr/erasure-log/truncated.json").write_text('{"request_id": "x", "user_hm')
    target = _target(database_url, tmp_path, "unreadable")
    with pytest.raises(RestoreRefused, match="truncated.json is unreadable"):
        restore_warehouse(objects, day=day, target=target, keyring=KEYS, at=NOW)
    _assert_nothing_left(target, tmp_path)
