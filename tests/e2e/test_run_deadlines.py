"""Run deadlines under a real scheduler: a late run pages PagerDuty, the next on-time run
resolves, and a late success resolves nothing (``deadline_probe``: 25 s from being queued)."""

from __future__ import annotations

import secrets
import time

from spotify_agent_airflow.deadlines import deadline_dedup_key
from tests.e2e.conftest import Api, airflow_until_ok
from tests.receivers import PagerDutyReceiver

DAG_ID = "deadline_probe"
KEY = deadline_dedup_key(DAG_ID)


def _trigger(api: Api, conf: dict[str, object]) -> str:
    run_id = f"deadline-{secrets.token_hex(4)}"
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
    answer = api.request("POST", f"/dags/{DAG_ID}/dagRuns", json=body)
    assert answer.status_code == 200, answer.text
    return run_id


def _wait_for(what: str, check, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout_s}s")


def _state(api: Api, run_id: str) -> str:
    return api.request("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json().get("state", "")


def test_a_late_run_pages_and_the_next_run_on_time_resolves(
    api: Api, running_airflow, pagerduty: PagerDutyReceiver
) -> None:
    env, _ = running_airflow
    airflow_until_ok(env, "dags", "unpause", DAG_ID)
    trace_id = secrets.token_hex(16)
    late = _trigger(api, {"sleep_s": 45, "trace_id": trace_id})

    trigger = _wait_for(
        "trigger",
        lambda: [e for e in pagerduty.events if e["dedup_key"] == KEY],
    )[0]
    assert trigger["event_action"] == "trigger"
    details = trigger["payload"]["custom_details"]
    assert details["run_id"] == late
    assert details["trace_id"] == trace_id
    assert details["state"] == "running"
    assert f"{DAG_ID} run {late} missed its deadline" in trigger["payload"]["summary"]

    on_time = _trigger(api, {"sleep_s": 0})
    _wait_for("resolve", lambda: pagerduty.by_key(KEY) == ["trigger", "resolve"])
    assert _state(api, on_time) == "success"

    # The late run succeeds too, after its deadline: that is no recovery.
    _wait_for("the late run's end", lambda: _state(api, late) == "success")
    time.sleep(10)  # its success callback has run by now
    assert pagerduty.by_key(KEY) == ["trigger", "resolve"]
