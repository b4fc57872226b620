"""What a missed run deadline pages with (the scheduler-driven path is tests/e2e/test_run_deadlines)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spotify_agent.core.trace import derive_trace_id
from spotify_agent_airflow.deadlines import missed_deadline_alert, run_deadline


def _context(state: str, conf: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "dag_run": {
            "dag_id": "listening_ingest",
            "dag_run_id": "scheduled__2026-11-26T10:00:00+00:00",
            "queued_at": "2026-11-26T11:00:01Z",
            "state": state,
            "conf": conf,
        },
        "deadline": {"id": "0193", "deadline_time": "2026-11-26T11:45:01Z"},
    }


def test_a_run_still_going_at_its_deadline_triggers_the_dags_incident() -> None:
    event = missed_deadline_alert(_context("running"))
    body = event.body("key")
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "spotify-agent/deadline/listening_ingest"
    assert body["payload"]["summary"] == (
        "listening_ingest run scheduled__2026-11-26T10:00:00+00:00 missed its deadline "
        "(2026-11-26T11:45:01Z); queued at 2026-11-26T11:00:01Z, running when it passed"
    )
    details = body["payload"]["custom_details"]
    # No trace id given: the one every other signal of the run carries.
    assert details["trace_id"] == derive_trace_id(
        "listening_ingest", "scheduled__2026-11-26T10:00:00+00:00"
    )
    given = "ab" * 16
    assert (
        missed_deadline_alert(_context("queued", {"trace_id": given})).details["trace_id"] == given
    )


def test_a_run_that_already_failed_is_not_paged_twice() -> None:
    assert missed_deadline_alert(_context("failed")) is None


def test_backfill_runs_are_not_paged() -> None:
    context = _context("queued")
    context["dag_run"]["run_type"] = "backfill"  # type: ignore[index]
    assert missed_deadline_alert(context) is None


def test_a_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        run_deadline(timedelta(0))
    assert set(run_deadline(timedelta(minutes=5))) == {"deadline", "on_success_callback"}
