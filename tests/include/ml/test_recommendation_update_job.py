"""The recommendation_update job without Airflow, on each warehouse backend and a real Redis:
no serving model is a named skip, every active listener but the one being erased gets k tracks,
stored and audited for the attempt and behind Redis' pointer, a re-run writes the same set, and a
tampered model is refused naming the file, before anything is written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial

import pytest
import redis
from sqlalchemy import select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.maintenance.erasure import erased_among
from spotify_agent.maintenance.erasure_keys import Keyring, key_id
from spotify_agent.maintenance.personal_data import user_hmac
from spotify_agent.ml.confs import RecommendationUpdateConf
from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.models import EaseParams, EaseRecommender
from spotify_agent.ml.recommendation_update import NO_SERVING_MODEL, update_recommendations
from spotify_agent.ml.registry import promote, record_model, save_model
from spotify_agent.ml.synthetic import scene_listening
from spotify_agent.warehouse.schema import (
    audit_log,
    catalogue_tracks,
    erasure_log,
    listening_events,
    recommendations,
)
from tests.conftest import redis_connection

ATTEMPT = Attempt("recommendation_update", "manual__job-test", "ef" * 16, task_id="publish",
                  try_number=1)  # fmt: skip
DAY = date(2026, 11, 2)
END = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
MODEL_ID = "ease-job000000000000"
K = 3
CONF = RecommendationUpdateConf(day=DAY, k=K)
EVENTS = scene_listening(users=40, plays_per_user=20, end=END, days=30, seed=7)
# Erased while the run recommended: in the erasure log, their plays not deleted yet.
ERASING = "scene1-user0001"
KEY = b"job-test-erasure-key"
ERASED = partial(erased_among, key=Keyring(KEY))
# A database of its own: the DAG tests own recs:* in the default one.
CACHE_DB = 14


@pytest.fixture
def cache(redis_url):
    where = redis_connection(redis_url)
    client = redis.Redis(host=where["host"], port=where["port"], db=CACHE_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    plays = Interactions.from_triples(
        [e["user_id"] for e in EVENTS], [e["track_id"] for e in EVENTS], [1.0] * len(EVENTS)
    )
    model = EaseRecommender(EaseParams(min_listeners=3)).fit(plays.matrix)
    root = tmp_path_factory.mktemp("objects")
    card = save_model(root, MODEL_ID, model, plays.item_ids, {})
    return root, card


def _plant(engine, card, *, serving: bool = True) -> None:
    with engine.begin() as connection:
        connection.execute(listening_events.insert(), EVENTS)
        connection.execute(
            catalogue_tracks.insert(),
            [{"track_id": t, "artist_id": t, "artist_name": "A", "name": "T",
              "duration_ms": 200_000, "updated_at": NOW}
             for t in sorted({e["track_id"] for e in EVENTS})],
        )  # fmt: skip
        connection.execute(
            erasure_log.insert(),
            [{"user_hmac": user_hmac(ERASING, KEY), "request_id": "req-job", "key_id": key_id(KEY),
              "erased_at": NOW}],
        )  # fmt: skip
        if not serving:
            return
        record_model(connection, {
            "model_id": MODEL_ID, "kind": "ease", "window_start": END, "cutoff": END,
            "window_end": END, "params": card["params"], "code_version": "test",
            "data_sha256": "d" * 64, "metrics": {}, "compared": {}, "users": 40,
            "items": card["items"], "object_prefix": f"models/{MODEL_ID}",
            "weights_sha256": card["weights_sha256"], "run_id": "seed", "trace_id": "0" * 32,
            "created_at": END,
        })  # fmt: skip
        promote(connection, MODEL_ID, reason="test", at=END)


def _rows(engine) -> list[dict]:
    query = select(recommendations).order_by(recommendations.c.user_id, recommendations.c.rank)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _audits(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        return {
            row["action"]: dict(row) for row in connection.execute(select(audit_log)).mappings()
        }


def _update(engine, root, cache=None):
    return update_recommendations(
        engine, END, CONF, ATTEMPT, models=root, erased=ERASED, cache=cache, now=NOW
    )


def test_with_no_serving_model_the_run_is_a_named_skip(warehouse, model_root) -> None:
    _plant(warehouse, model_root[1], serving=False)

    update = _update(warehouse, model_root[0])

    assert update.skipped == NO_SERVING_MODEL
    assert _rows(warehouse) == [] and _audits(warehouse) == {}


def test_every_active_listener_but_the_erasing_one_gets_k_tracks_stored_and_published(
    warehouse, model_root, cache
) -> None:
    _plant(warehouse, model_root[1])

    update = _update(warehouse, model_root[0], cache)

    rows = _rows(warehouse)
    listeners = {e["user_id"] for e in EVENTS} - {ERASING}
    assert {row["user_id"] for row in rows} == listeners
    assert all(sum(r["user_id"] == u for r in rows) == K for u in listeners)
    assert {row["run_id"] for row in rows} == {ATTEMPT.run_id}
    audits = _audits(warehouse)
    written = audits["recommendations_written"]
    assert (written["task_id"], written["try_number"], written["trace_id"]) == (
        "publish",
        1,
        "ef" * 16,
    )
    assert written["counts"]["rows_written"] == len(rows)
    assert written["counts"]["erased_users_left_out"] == 1
    assert written["entity_key"] == f"{MODEL_ID}:{DAY.isoformat()}"
    version = cache.get("recs:current").decode()
    assert audits["recommendations_published"]["entity_key"] == version
    assert int(cache.get(f"recs:{version}:__users__")) == len(listeners)
    assert cache.get(f"recs:{version}:{ERASING}") is None
    assert update.as_dict() == {
        "model_id": MODEL_ID,
        "day": DAY.isoformat(),
        **{k: v for k, v in written["counts"].items() if k not in ("rows_written",
                                                                   "erased_users_left_out")},
        "redis_users": len(listeners),
    }  # fmt: skip
    assert update.summary_line().endswith(
        f"Redis: {len(listeners)} users, recs:current -> {version}"
    )


def test_a_re_run_writes_the_same_set(warehouse, model_root) -> None:
    _plant(warehouse, model_root[1])
    first = _update(warehouse, model_root[0])
    before = _rows(warehouse)

    again = _update(warehouse, model_root[0])

    assert _rows(warehouse) == before
    assert again == first
    assert again.redis_users == 0 and "recommendations_published" not in _audits(warehouse)


def test_a_tampered_model_is_refused_naming_the_file_and_writes_nothing(
    warehouse, model_root, tmp_path
) -> None:
    _plant(warehouse, model_root[1])
    tampered = tmp_path / "objects"
    (tampered / "models").mkdir(parents=True)
    source = model_root[0] / "models" / MODEL_ID
    (tampered / "models" / MODEL_ID).mkdir()
    for name in ("card.json", "items.json", "weights.pt"):
        data = (source / name).read_bytes()
        (tampered / "models" / MODEL_ID / name).write_bytes(
            data[:-7] if name == "weights.pt" else data
        )

    with pytest.raises(PermanentFailure, match="nothing written: .*weights.pt has SHA-256"):
        _update(warehouse, tampered)

    assert _rows(warehouse) == []
    refused = _audits(warehouse)["recommendations_refused"]
    assert (refused["outcome"], refused["entity_key"]) == ("refused", MODEL_ID)
    assert "weights.pt has SHA-256" in refused["detail"]
