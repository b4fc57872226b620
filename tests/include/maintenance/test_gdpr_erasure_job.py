"""The gdpr_erasure job for one request, without Airflow, on each warehouse backend: the user is
erased and proven gone, the receipt, log entry and audit row name the attempt and never the raw
id, a completed request is left alone, and an unknown one is refused naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from upath import UPath

from spotify_agent.core.audit import Attempt
from spotify_agent.maintenance.erasure import log_entries, record_request
from spotify_agent.maintenance.gdpr_erasure import erase_request
from spotify_agent.warehouse.schema import audit_log, listening_events
from tests.include.maintenance.test_erasure import GONE, KEPT, KEYS, NOW, TRACK

ATTEMPT = Attempt("gdpr_erasure", "manual__erase-job", "ef" * 16, task_id="erase", try_number=1)


def _plays(engine, user_id: str) -> int:
    with engine.connect() as connection:
        query = select(listening_events.c.track_id).where(listening_events.c.user_id == user_id)
        return len(connection.execute(query).all())


@pytest.fixture
def requested(warehouse) -> str:
    with warehouse.begin() as connection:
        connection.execute(
            insert(listening_events),
            [
                {
                    "user_id": user_id,
                    "played_at": NOW - timedelta(minutes=n),
                    "track_id": TRACK,
                    "source": "test",
                    "run_id": "seed",
                    "trace_id": "0" * 32,
                    "ingested_at": NOW,
                }
                for user_id in (GONE, KEPT)
                for n in range(3)
            ],
        )
        request_id, created = record_request(
            connection,
            user_id=GONE,
            keyring=KEYS,
            requested_by="test",
            trace_id="cd" * 16,
            at=NOW,
            request_id="job-1",
        )
    assert created
    return request_id


def test_the_user_is_erased_proven_gone_and_recorded_for_the_attempt(
    warehouse, requested, tmp_path
) -> None:
    objects = UPath(str(tmp_path / "objects"))

    outcome = erase_request(warehouse, objects, requested, keyring=KEYS, attempt=ATTEMPT, now=NOW)

    assert outcome.receipt is not None
    assert outcome.receipt.counts["listening_events.user_id"] == 3
    assert outcome.as_result() == {
        "request_id": "job-1",
        "status": "completed",
        "found": True,
        "erased": sum(outcome.receipt.counts.values()),
    }
    assert (_plays(warehouse, GONE), _plays(warehouse, KEPT)) == (0, 3)
    with warehouse.connect() as connection:
        (audit,) = connection.execute(
            select(audit_log).where(audit_log.c.action == "user_erased")
        ).mappings()
        entries = log_entries(objects, connection)
    assert (audit["task_id"], audit["trace_id"], audit["outcome"]) == ("erase", "ef" * 16, "erased")
    assert GONE not in str(dict(audit)) and audit["entity_key"] == outcome.receipt.user_hmac
    assert [entry.request_id for entry in entries] == ["job-1"]
    assert outcome.summary_line().startswith("request job-1: ")


def test_a_completed_request_is_left_alone(warehouse, requested, tmp_path) -> None:
    objects = UPath(str(tmp_path / "objects"))
    erase_request(warehouse, objects, requested, keyring=KEYS, attempt=ATTEMPT, now=NOW)

    again = erase_request(warehouse, objects, requested, keyring=KEYS, attempt=ATTEMPT, now=NOW)

    assert again.as_result() == {"request_id": "job-1", "status": "completed"}
    assert again.summary_line() == "request job-1 was completed by an earlier run"


def test_an_unknown_request_is_refused_naming_the_field(warehouse, tmp_path) -> None:
    with pytest.raises(LookupError, match="request_id: no erasure request 'never-made'"):
        erase_request(warehouse, UPath(str(tmp_path)), "never-made", keyring=KEYS, attempt=ATTEMPT)
