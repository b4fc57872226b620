"""recommendation_update end to end with a real Redis: every active listener gets k unheard,
showable tracks with a reason, the fallback is counted, an open erasure request is respected
and so is an erasure completed after the histories were read,
the set lands in the warehouse and behind Redis' pointer, a re-run is the same, a tampered
model writes nothing, bad conf is refused by name."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from sqlalchemy import create_engine, select

from spotify_agent.maintenance.erasure_keys import key_id
from spotify_agent.maintenance.personal_data import user_hmac
from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.models import EaseParams, EaseRecommender
from spotify_agent.ml.registry import promote, record_model, save_model
from spotify_agent.ml.synthetic import scene_listening, scene_of, track_id
from spotify_agent.warehouse.schema import (
    audit_log,
    catalogue_tracks,
    erasure_log,
    erasure_requests,
    listening_events,
    recommendations,
)
from spotify_agent_airflow.hooks.erasure_key import DEMO_KEY
from tests.conftest import redis_connection
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.receivers import StatsdReceiver, run_statsd_receiver
from tests.statsd_mapping import assert_every_line_maps

DAY = date(2026, 11, 2)
END = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
UNAVAILABLE = track_id(1, 5)
ERASING = "scene3-user0003"
# Erased while the run recommended: in the erasure log, their plays not yet deleted.
ERASED_MEANWHILE = "scene0-user0004"
NEWCOMER = "newcomer-0001"  # plays only a track no model knows
NEW_TRACK = "NEWTRACK".ljust(22, "0")
MODEL_ID = "ease-test0000000000"
K = 5


@pytest.fixture(scope="module")
def redis_env(redis_url):
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("recs:*"):
        client.delete(key)
    yield (
        client,
        {
            "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(redis_connection(redis_url)),
            "AIRFLOW_VAR_CACHE_BACKEND": "redis",
        },
    )
    client.close()


@pytest.fixture(scope="module")
def warehouse(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    events = scene_listening(end=END, days=60, seed=5)
    events.append({**events[0], "user_id": NEWCOMER, "track_id": NEW_TRACK})
    tracks = {row["track_id"] for row in events} - {UNAVAILABLE}
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(listening_events.insert(), events)
        connection.execute(
            catalogue_tracks.insert(),
            [{"track_id": t, "artist_id": t, "artist_name": f"Artist of {t[:7]}",
              "name": f"Song {t[:7]}", "duration_ms": 200_000, "updated_at": now}
             for t in sorted(tracks)],
        )  # fmt: skip
        key = os.environ.get("GDPR_ERASURE_KEY", DEMO_KEY).encode()
        # A request a backend recorded (not hashed yet) and an erasure completed before.
        connection.execute(
            erasure_requests.insert(),
            [{"request_id": "req-1", "user_id": ERASING, "user_hmac": "",
              "status": "pending", "requested_by_run": "r", "trace_id": "0" * 32,
              "requested_at": now}],
        )  # fmt: skip
        connection.execute(
            erasure_log.insert(),
            [{"user_hmac": user_hmac(ERASED_MEANWHILE, key), "request_id": "req-0",
              "key_id": key_id(key), "erased_at": now}],
        )  # fmt: skip
    yield engine, events
    engine.dispose()


def _rows(engine, day: date = DAY) -> list[dict]:
    with engine.connect() as connection:
        found = connection.execute(
            select(recommendations)
            .where(recommendations.c.day == day)
            .order_by(recommendations.c.user_id, recommendations.c.rank)
        ).mappings()
        return [dict(row) for row in found]


def _audits(engine, action: str) -> list[dict]:
    with engine.connect() as connection:
        found = connection.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        ).mappings()
        return [dict(row) for row in found]


def test_with_no_serving_model_the_run_is_skipped_saying_so(airflow_home, warehouse, redis_env):
    result = airflow_home.dags_test(
        "recommendation_update", {"day": DAY.isoformat()}, extra_env=redis_env[1]
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "no model serves yet" in result.stdout + result.stderr
    assert _rows(warehouse[0]) == []


@pytest.fixture(scope="module")
def serving(airflow_home, warehouse):
    engine, events = warehouse
    plays = Interactions.from_triples(
        [e["user_id"] for e in events], [e["track_id"] for e in events], [1.0] * len(events)
    )
    plays_known = plays  # the model knows every track but the newcomer's, which it never saw
    keep = [i for i, t in enumerate(plays.item_ids) if t != NEW_TRACK]
    model = EaseRecommender(EaseParams(min_listeners=3)).fit(plays_known.matrix[:, keep])
    item_ids = plays.item_ids[keep]
    card = save_model(airflow_home.objects_path, MODEL_ID, model, item_ids, {})
    row = {
        "model_id": MODEL_ID, "kind": "ease", "window_start": END, "cutoff": END,
        "window_end": END, "params": model.params(), "code_version": "test",
        "data_sha256": "d" * 64, "metrics": {"ndcg": 0.5}, "compared": {},
        "users": plays.shape[0], "items": len(item_ids), "object_prefix": f"models/{MODEL_ID}",
        "weights_sha256": card["weights_sha256"], "run_id": "seed", "trace_id": "0" * 32,
        "created_at": END,
    }  # fmt: skip
    with engine.begin() as connection:
        record_model(connection, row)
        promote(connection, MODEL_ID, reason="test", at=END)
    return MODEL_ID


@pytest.fixture(scope="module")
def statsd() -> Iterator[StatsdReceiver]:
    """What the module's first run sends to statsd (only that run is pointed at it)."""
    with run_statsd_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def published(airflow_home, warehouse, serving, redis_env, statsd):
    result = airflow_home.dags_test(
        "recommendation_update",
        {"day": DAY.isoformat(), "k": K},
        extra_env={**redis_env[1], **statsd.env()},
    )
    assert result.returncode == 0, result.stdout[-4000:]
    return _rows(warehouse[0])


def test_every_active_listener_gets_k_unheard_showable_tracks_with_a_reason(
    warehouse, published
) -> None:
    engine, events = warehouse
    heard = defaultdict(set)
    for event in events:
        heard[event["user_id"]].add(event["track_id"])
    by_user = defaultdict(list)
    for row in published:
        by_user[row["user_id"]].append(row)
    assert ERASED_MEANWHILE in heard
    assert set(by_user) == set(heard) - {ERASING, ERASED_MEANWHILE}
    for user, rows in by_user.items():
        assert [row["rank"] for row in rows] == list(range(1, K + 1)), user
        assert not {row["track_id"] for row in rows} & heard[user]
        assert UNAVAILABLE not in {row["track_id"] for row in rows}
    # listeners of a scene are recommended their scene, for a track of it they played
    scene_users = [user for user in by_user if user.startswith("scene")]
    for user in scene_users:
        scene = int(user[5])
        top = by_user[user][0]
        assert scene_of(top["track_id"]) in (scene, None), (user, top)
        assert top["because_track_id"] in heard[user]
        if top["because_track_id"] == UNAVAILABLE:  # played, but the catalogue cannot name it
            assert top["reason"] == "Because of what you listen to"
        else:
            assert (
                top["reason"] == f"Because you listen to Song {top['because_track_id'][:7]} "
                f"by Artist of {top['because_track_id'][:7]}"
            )
    same_scene = sum(
        scene_of(row["track_id"]) == int(user[5]) for user in scene_users for row in by_user[user]
    )
    assert same_scene / (K * len(scene_users)) > 0.9


def test_a_listener_the_model_does_not_know_gets_the_counted_fallback(warehouse, published):
    newcomer = [row for row in published if row["user_id"] == NEWCOMER]
    assert len(newcomer) == K
    assert {row["reason"] for row in newcomer} == {"Popular on the service right now"}
    listeners = defaultdict(set)
    for event in warehouse[1]:
        if event["played_at"] >= END - timedelta(days=30) and event["track_id"] != UNAVAILABLE:
            listeners[event["track_id"]].add(event["user_id"])
    most = sorted(listeners, key=lambda track: (-len(listeners[track]), track))
    assert [row["track_id"] for row in newcomer] == [t for t in most if t != NEW_TRACK][:K]
    [audit] = _audits(warehouse[0], "recommendations_written")
    assert audit["counts"]["fallback_users"] == 1
    assert audit["counts"]["users"] == len({row["user_id"] for row in published})
    assert audit["counts"]["rows_written"] == len(published)
    assert audit["counts"]["erased_users_left_out"] == 1


def test_recommendations_and_fallbacks_reach_the_dashboard(published, statsd, tmp_path) -> None:
    series = assert_every_line_maps(statsd.lines)
    assert_queries_return_data(
        panel_queries(
            "Recommendations written (last day)", "Recommendations and popular-list fallbacks"
        ),
        series,
        tmp_path,
    )


def test_the_set_is_behind_the_redis_pointer_complete(published, redis_env) -> None:
    client = redis_env[0]
    version = client.get("recs:current").decode()
    assert version.startswith(f"{MODEL_ID}:{DAY.isoformat()}:")
    users = {row["user_id"] for row in published}
    assert int(client.get(f"recs:{version}:__users__")) == len(users)
    for user in sorted(users)[:25]:
        stored = json.loads(client.get(f"recs:{version}:{user}"))
        expected = [
            {"track_id": row["track_id"], "reason": row["reason"]}
            for row in published
            if row["user_id"] == user
        ]
        assert stored == expected
        assert 0 < client.ttl(f"recs:{version}:{user}") <= 8 * 86_400
    assert client.get(f"recs:{version}:{ERASED_MEANWHILE}") is None


def test_a_re_run_writes_the_same_set(airflow_home, warehouse, published, redis_env) -> None:
    result = airflow_home.dags_test(
        "recommendation_update", {"day": DAY.isoformat(), "k": K}, extra_env=redis_env[1]
    )
    assert result.returncode == 0, result.stdout[-4000:]
    volatile = ("run_id", "trace_id", "created_at")

    def stable(rows):
        return [{k: v for k, v in row.items() if k not in volatile} for row in rows]

    assert stable(_rows(warehouse[0])) == stable(published)


def test_a_tampered_model_writes_nothing(airflow_home, warehouse, published, redis_env) -> None:
    weights = airflow_home.objects_path / "models" / MODEL_ID / "weights.pt"
    original = weights.read_bytes()
    weights.write_bytes(original[:-7])
    try:
        later = date(2026, 11, 3)
        result = airflow_home.dags_test(
            "recommendation_update", {"day": later.isoformat()}, extra_env=redis_env[1]
        )
    finally:
        weights.write_bytes(original)
    assert result.returncode != 0
    assert _rows(warehouse[0], later) == []
    assert redis_env[0].get("recs:current").decode().split(":")[1] == DAY.isoformat()
    [refused] = _audits(warehouse[0], "recommendations_refused")
    assert "weights.pt has SHA-256" in refused["detail"]


def test_bad_conf_is_refused_before_the_run_naming_the_field(airflow_home, warehouse) -> None:
    result = airflow_home.dags_test("recommendation_update", {"active_days": 100})
    assert result.returncode != 0
    assert "active_days" in result.stdout + result.stderr
