from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from spotify_agent.core.audit import AuditRecord, pseudonymise, write_audit
from spotify_agent.core.quarantine import QuarantinedItem, RunRef, decode_payload, quarantine_items
from spotify_agent.warehouse.schema import audit_log, quarantine

AT = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
RUN = RunRef(dag_id="ingest", run_id="scheduled__2026-11-26", task_id="parse", trace_id="a" * 32)


def _attempt(outcome: str, try_number: int, **overrides: object) -> AuditRecord:
    fields: dict[str, object] = dict(
        action="task_attempt",
        dag_id="ingest",
        run_id="r1",
        task_id="parse",
        try_number=try_number,
        trace_id="a" * 32,
        outcome=outcome,
        occurred_at=AT,
    )
    fields.update(overrides)
    return AuditRecord(**fields)  # type: ignore[arg-type]


def test_each_attempt_is_one_row_and_rewriting_an_attempt_replaces_it(warehouse) -> None:
    with warehouse.begin() as connection:
        write_audit(connection, [_attempt("up_for_retry", 1), _attempt("success", 2)])
        write_audit(
            connection, [_attempt("success", 2, duration_ms=1200, counts={"rows_written": 5})]
        )
    with warehouse.connect() as connection:
        rows = connection.execute(
            select(
                audit_log.c.try_number,
                audit_log.c.outcome,
                audit_log.c.duration_ms,
                audit_log.c.counts,
            ).order_by(audit_log.c.try_number)
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, "up_for_retry", None, None),
        (2, "success", 1200, {"rows_written": 5}),
    ]


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _attempt("success", 1, occurred_at=datetime(2026, 1, 1))


def test_pseudonymised_keys_hide_the_identifier_but_stay_joinable() -> None:
    key = pseudonymise("spotify:user:alice", namespace="user")
    assert "alice" not in key
    assert key == pseudonymise("spotify:user:alice", namespace="user")
    assert key != pseudonymise("spotify:user:alice", namespace="artist")


def test_quarantine_keeps_every_payload_losslessly_and_once(warehouse) -> None:
    items = [
        QuarantinedItem(
            "spotify.artist",
            {"id": "x", "popularity": "high"},
            "popularity: not an int",
            "popularity",
        ),
        QuarantinedItem("spotify.artist", '{"id": "truncat', "invalid JSON: unterminated string"),
        QuarantinedItem("audio", b"\x00\xff\xfeRIFF", "not a wav file"),
    ]
    with warehouse.begin() as connection:
        assert quarantine_items(connection, items, run=RUN, at=AT) == 3
        # The same bad input seen again by a re-run is not stored twice.
        quarantine_items(connection, items[:1], run=RUN, at=AT)
    with warehouse.connect() as connection:
        rows = connection.execute(select(quarantine).order_by(quarantine.c.id)).mappings().all()
    assert len(rows) == 3
    assert [decode_payload(r["payload_encoding"], r["payload"]) for r in rows] == [
        {"id": "x", "popularity": "high"},
        '{"id": "truncat',
        b"\x00\xff\xfeRIFF",
    ]
    assert rows[0]["field"] == "popularity" and rows[0]["trace_id"] == "a" * 32
    assert rows[2]["reason"] == "not a wav file"


def test_sources_as_long_as_object_keys_fit_on_both_backends(warehouse) -> None:
    source = "landing/listening/" + "k" * 1000 + ".jsonl:123456"
    with warehouse.begin() as connection:
        quarantine_items(connection, [QuarantinedItem(source, "{", "not JSON")], run=RUN, at=AT)
    with warehouse.connect() as connection:
        assert connection.execute(select(quarantine.c.source)).scalar_one() == source


def test_a_key_below_a_folder_is_found_on_s3_and_locally(s3_server, tmp_path) -> None:
    """ObjectStoragePath.relative_to refuses S3 paths; ingestion and erasure list landed files."""
    import json as _json
    import os

    from airflow.sdk import ObjectStoragePath

    from spotify_agent.core.objects import relative_key

    os.environ["AIRFLOW_CONN_OBJECTS_TEST"] = _json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",  # pragma: allowlist secret
            "extra": {"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
        }
    )
    try:
        s3_server.client().put_object(
            Bucket=s3_server.bucket, Key="rk/landing/a/b.jsonl", Body=b"x"
        )
        landing = ObjectStoragePath(f"s3://{s3_server.bucket}/rk/landing", conn_id="objects_test")
        keys = [relative_key(path, landing) for path in landing.rglob("*") if path.is_file()]
        assert keys == ["a/b.jsonl"]
    finally:
        del os.environ["AIRFLOW_CONN_OBJECTS_TEST"]
    (tmp_path / "landing/x").mkdir(parents=True)
    (tmp_path / "landing/x/y.json").write_text("{}")
    local = ObjectStoragePath(f"file://{tmp_path}/landing")
    assert [relative_key(p, local) for p in local.rglob("*") if p.is_file()] == ["x/y.json"]


def test_an_attempts_counts_are_told_once_committed_never_when_rolled_back(warehouse) -> None:
    from spotify_agent.core.audit import Attempt

    told: list[tuple[str, dict]] = []
    attempt = Attempt(
        "dag", "run-1", "c" * 32, task_id="t", on_committed=lambda a, c: told.append((a, dict(c)))
    )
    with pytest.raises(RuntimeError), warehouse.begin() as connection:
        attempt.record(connection, "rows_written", counts={"rows_written": 3})
        raise RuntimeError("the write failed")
    assert told == []

    with warehouse.begin() as connection:
        attempt.record(connection, "rows_written", counts={"rows_written": 3})
    assert told == [("rows_written", {"rows_written": 3})]
    with warehouse.connect() as connection:
        rows = connection.execute(select(audit_log.c.action, audit_log.c.task_id)).all()
    assert [tuple(row) for row in rows] == [("rows_written", "t")]


def test_record_write_sets_the_bad_items_aside_and_audits_their_number(warehouse) -> None:
    from spotify_agent.core.audit import Attempt, record_write

    attempt = Attempt("dag", "run-1", "d" * 32, task_id="t")
    bad = [
        QuarantinedItem("landing/a.jsonl:1", {"played_at": "soon"}, "played_at: not a time"),
        QuarantinedItem("landing/a.jsonl:2", "{broken", "not JSON"),
    ]
    with warehouse.begin() as connection:
        counts = record_write(
            connection, attempt, "events_stored", counts={"rows_written": 5}, quarantined=bad
        )
    with warehouse.begin() as connection:  # the same bad items again: kept once
        again = record_write(
            connection, attempt, "events_stored", counts={"rows_written": 0}, quarantined=bad
        )

    assert counts == {"rows_written": 5, "quarantined": 2}
    assert again == {"rows_written": 0, "quarantined": 2}  # set aside by this run too
    with warehouse.connect() as connection:
        sources = connection.execute(select(quarantine.c.source, quarantine.c.run_id)).all()
        (audit,) = connection.execute(select(audit_log)).mappings().all()
    assert sorted(tuple(row) for row in sources) == [
        ("landing/a.jsonl:1", "run-1"),
        ("landing/a.jsonl:2", "run-1"),
    ]
    assert audit["counts"] == {"rows_written": 0, "quarantined": 2}  # the re-run's, replacing
