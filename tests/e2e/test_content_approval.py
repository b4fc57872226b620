"""A person approves or rejects new playlist descriptions in Airflow's Required Actions.

The run is started through the REST API like a backend would, the scheduler runs it, the approval
task waits in ``awaiting_input``, and the answer goes through the HITL REST endpoint that the
Airflow UI uses. Only then does anything reach Spotify (the emulator).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.spotify.confs import ManagedPlaylistSpec
from spotify_agent.spotify.playlist_store import manage
from spotify_agent.warehouse.schema import audit_log, content_versions
from tests.e2e.conftest import REVIEWER, Api, airflow_until_ok

DAG_ID = "content_generation"


def _manage(airflow_home, playlist_id: str, track_ids: list[str]) -> None:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    spec = ManagedPlaylistSpec(playlist_id=playlist_id, rule="track_list", track_ids=track_ids)
    with engine.begin() as connection:
        manage(connection, [spec], run_id="e2e-setup", at=datetime.now(UTC))
    engine.dispose()


REVIEWER_DELAY_S = 10


def _trigger(api: Api, playlist_id: str) -> str:
    # trend_detection starts content_generation runs when trends are significant (the chain's
    # tests, on this worker's Airflow, may have left one): it would wait for its own review in
    # front of this run (one active run).
    for run in api.request("GET", f"/dags/{DAG_ID}/dagRuns").json()["dag_runs"]:
        if run["dag_run_id"].startswith("trend_detection__"):
            api.request("DELETE", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}")
    run_id = f"e2e-{secrets.token_hex(4)}"
    conf = {"playlist_ids": [playlist_id], "kinds": ["playlist_descriptions"]}
    answer = api.request(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": None, "conf": conf},
    )
    assert answer.status_code == 200, answer.text
    return run_id


def _wait(api: Api, path: str, done, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    last: dict = {}
    while time.monotonic() < deadline:
        answer = api.request("GET", path)
        if answer.status_code == 200:
            last = answer.json()
            if done(last):
                return last
        time.sleep(1)
    run_path = path.split("/taskInstances")[0]
    tasks = api.request("GET", f"{run_path}/taskInstances").json().get("task_instances", [])
    states = {task["task_id"]: task["state"] for task in tasks}
    pytest.fail(f"GET {path} never reached the expected state; tasks: {states}; last: {last}")


def _answer(api: Api, run_id: str, option: str) -> None:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve"
    task = _wait(api, path, lambda ti: ti["state"] == "awaiting_input")
    assert task["state"] == "awaiting_input"
    # A reviewer answers in seconds, not milliseconds. An answer that reaches Airflow 3.3
    # before the paused attempt's supervisor has exited (5 s under CI load) resumes the task
    # while the executor still reports the paused attempt, and the scheduler then marks the
    # resumed one for retry and loses it (seen once in CI; an Airflow race, not ours).
    time.sleep(REVIEWER_DELAY_S)
    details = api.request("GET", f"{path}/-1/hitlDetails").json()
    assert details["options"] == ["Approve", "Reject"]
    assert "*Proposed (template:v1):*" in details["body"]
    answer = api.request("PATCH", f"{path}/-1/hitlDetails", json={"chosen_options": [option]})
    assert answer.status_code == 200, answer.text


def _finished(api: Api, run_id: str) -> dict:
    return _wait(
        api,
        f"/dags/{DAG_ID}/dagRuns/{run_id}",
        lambda run: run["state"] in ("success", "failed"),
    )


def _versions(airflow_home, playlist_id: str) -> list[dict]:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        rows = [
            dict(row)
            for row in connection.execute(
                select(content_versions).where(content_versions.c.subject_id == playlist_id)
            ).mappings()
        ]
    engine.dispose()
    return rows


def _description(spotify, playlist_id: str) -> str:
    return str(spotify.user_get(f"/playlists/{playlist_id}")["description"] or "")


@pytest.fixture(scope="module")
def playlists(airflow_home, running_airflow, spotify) -> list[str]:
    env, _ = running_airflow
    owned = sorted(
        p.id for p in spotify.catalog.playlists.values() if p.owner_id == spotify.user_id
    )
    tracks = sorted(spotify.catalog.tracks)
    _manage(airflow_home, owned[0], tracks[:4])
    _manage(airflow_home, owned[1], tracks[10:13])
    airflow_until_ok(env, "dags", "unpause", DAG_ID)
    return owned[:2]


def test_approved_descriptions_are_published_with_the_reviewer_recorded(
    airflow_home, api, spotify, playlists
) -> None:
    playlist_id = playlists[0]
    before = _description(spotify, playlist_id)
    run_id = _trigger(api, playlist_id)
    _answer(api, run_id, "Approve")
    assert _finished(api, run_id)["state"] == "success"

    (version,) = _versions(airflow_home, playlist_id)
    assert (version["status"], version["reviewed_by"]) == ("published", REVIEWER)
    assert version["text"].startswith("4 hand-picked tracks.")
    assert _description(spotify, playlist_id) == version["text"] != before


def test_rejected_descriptions_stay_off_spotify_and_are_not_asked_again(
    airflow_home, api, spotify, playlists
) -> None:
    playlist_id = playlists[1]
    before = _description(spotify, playlist_id)
    run_id = _trigger(api, playlist_id)
    _answer(api, run_id, "Reject")
    assert _finished(api, run_id)["state"] == "success"
    publish = api.request(
        "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/publish_descriptions"
    ).json()
    assert publish["state"] == "skipped"
    (version,) = _versions(airflow_home, playlist_id)
    assert (version["status"], version["reviewed_by"]) == ("rejected", REVIEWER)
    assert _description(spotify, playlist_id) == before

    # The same facts again: nothing new to review, so the run does not wait for anyone.
    again = _trigger(api, playlist_id)
    assert _finished(api, again)["state"] == "success"
    gate = api.request("GET", f"/dags/{DAG_ID}/dagRuns/{again}/taskInstances/approve").json()
    assert gate["state"] == "skipped"

    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        actions = list(
            connection.execute(
                select(audit_log.c.action).where(
                    audit_log.c.run_id == run_id, audit_log.c.action.like("content_%")
                )
            ).scalars()
        )
    engine.dispose()
    assert sorted(actions) == ["content_drafted", "content_rejected"]
