"""Recommendations from a model whose answers are known, and their publication in Redis."""

import json
import uuid
from datetime import date

import numpy as np
import pytest
import redis
import scipy.sparse as sp

from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.models import EaseParams, EaseRecommender
from spotify_agent.ml.publish import pointer_key, publish, set_version, user_key
from spotify_agent.ml.recommend import POPULAR_REASON, Recommendation, TrackName, recommend

ITEMS = np.array([f"t{i:02d}" for i in range(20)], dtype=object)
CATALOGUE = {t: TrackName(f"Song {t}", "Band") for t in ITEMS}


def two_scenes() -> sp.csr_matrix:
    """60 users; the first 30 play tracks t00-t09, the others t10-t19."""
    rng = np.random.default_rng(0)
    rows, cols = [], []
    for user in range(60):
        for item in rng.choice(10, 6, replace=False):
            rows.append(user)
            cols.append(item + (0 if user < 30 else 10))
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(60, 20))


@pytest.fixture(scope="module")
def model() -> EaseRecommender:
    return EaseRecommender(EaseParams(l2=1.0, min_listeners=2)).fit(two_scenes())


def test_a_listener_gets_unheard_tracks_of_their_scene_with_the_track_behind_each(model):
    histories = Interactions.from_triples(["ann", "ann"], ["t12", "t15"], [9, 2])

    picks, counts = recommend(model, ITEMS, histories, k=4, catalogue=CATALOGUE, popular=[])

    assert [p.rank for p in picks] == [1, 2, 3, 4]
    assert all(p.track_id in ITEMS[10:] and p.track_id not in ("t12", "t15") for p in picks)
    assert all(p.because_track_id in ("t12", "t15") for p in picks)
    assert picks[0].reason == f"Because you listen to Song {picks[0].because_track_id} by Band"
    assert counts.users == 1 and counts.recommendations == 4 and counts.fallback_users == 0


def test_a_track_the_service_cannot_show_is_never_recommended(model):
    histories = Interactions.from_triples(["ann"], ["t12"], [3])
    hidden = {t: n for t, n in CATALOGUE.items() if t not in ("t10", "t11")}

    picks, counts = recommend(model, ITEMS, histories, k=10, catalogue=hidden, popular=[])

    assert not {"t10", "t11"} & {p.track_id for p in picks}
    assert counts.filtered_unavailable == 2


def test_a_listener_the_model_does_not_know_gets_the_popular_fallback_unheard(model):
    histories = Interactions.from_triples(["newcomer"], ["never-seen"], [1])

    picks, counts = recommend(
        model, ITEMS, histories, k=2, catalogue=CATALOGUE, popular=["never-seen", "t03", "t07"]
    )

    assert [(p.track_id, p.reason, p.score) for p in picks] == [
        ("t03", POPULAR_REASON, None),
        ("t07", POPULAR_REASON, None),
    ]
    assert counts.fallback_users == 1


def test_a_listener_of_only_tracks_the_model_leaves_out_gets_the_fallback(model):
    rare = EaseRecommender(EaseParams(l2=1.0, min_listeners=40)).fit(two_scenes())
    assert len(rare.items) == 0 or "t12" not in set(ITEMS[rare.items])
    histories = Interactions.from_triples(["ann"], ["t12"], [3])

    picks, counts = recommend(rare, ITEMS, histories, k=2, catalogue=CATALOGUE,
                              popular=["t05", "t06"])  # fmt: skip

    assert [p.track_id for p in picks] == ["t05", "t06"] and counts.fallback_users == 1


def test_scores_that_are_not_numbers_are_never_recommended_and_are_counted(model):
    broken = EaseRecommender(model.hyper)
    broken.__dict__.update(model.__dict__)
    broken.weights = model.weights.copy()
    broken.weights[:, 3] = np.nan  # every score of one modelled track
    histories = Interactions.from_triples(["ann"], ["t02"], [3])

    picks, counts = recommend(broken, ITEMS, histories, k=19, catalogue=CATALOGUE, popular=[])

    assert str(ITEMS[broken.items[3]]) not in {p.track_id for p in picks}
    assert counts.not_a_number_scores == 1


def test_k_below_one_is_refused_by_name(model):
    with pytest.raises(ValueError, match="k"):
        recommend(model, ITEMS, Interactions.from_triples([], [], []), k=0, catalogue={},
                  popular=[])  # fmt: skip


class FailingAfter:
    """A Redis client whose data pipeline dies after ``n`` commands: a worker lost mid-publish."""

    def __init__(self, client: redis.Redis, n: int) -> None:
        self.client, self.n = client, n

    def pipeline(self, transaction: bool = False):
        inner = self.client.pipeline(transaction=transaction)
        if transaction:
            return inner
        outer = self

        class Pipe:
            def set(self, *args, **kwargs):
                outer.n -= 1
                if outer.n < 0:
                    raise ConnectionError("worker lost")
                return inner.set(*args, **kwargs)

            def execute(self):
                return inner.execute()

        return Pipe()


PREFIX = f"test-recs-{uuid.uuid4().hex[:8]}"  # its own keys: other tests share this Redis


@pytest.fixture
def client(redis_url):
    connection = redis.Redis.from_url(redis_url)
    yield connection
    for key in connection.scan_iter(f"{PREFIX}:*"):
        connection.delete(key)
    connection.close()


def recs(users: int, track: str) -> list[Recommendation]:
    return [Recommendation(f"u{u:03d}", 1, track, 1.0, None, "r") for u in range(users)]


def current(client) -> str:
    return client.get(pointer_key(PREFIX)).decode()


def test_readers_see_the_old_set_until_the_new_one_is_complete(client):
    old = set_version("m1", date(2026, 11, 1), "run-1")
    assert publish(client, old, recs(30, "old-track"), prefix=PREFIX, chunk=10) == (30, True)
    new = set_version("m2", date(2026, 11, 2), "run-2")

    with pytest.raises(ConnectionError):
        publish(FailingAfter(client, 15), new, recs(30, "new-track"), prefix=PREFIX, chunk=10)

    assert current(client) == old
    for user in ("u000", "u029"):
        body = client.get(user_key(current(client), user, PREFIX))
        assert json.loads(body)[0]["track_id"] == "old-track"

    publish(client, new, recs(30, "new-track"), prefix=PREFIX, chunk=10)
    assert current(client) == new
    assert json.loads(client.get(user_key(new, "u029", PREFIX)))[0]["track_id"] == "new-track"
    assert client.exists(user_key(old, "u029", PREFIX))  # still there for the old pointer
    assert 0 < client.ttl(user_key(new, "u029", PREFIX)) <= 8 * 86_400


def test_a_set_for_an_older_day_does_not_move_readers_back(client):
    newer = set_version("m1", date(2026, 11, 2), "run-1")
    publish(client, newer, recs(3, "newer"), prefix=PREFIX)
    older = set_version("m1", date(2026, 11, 1), "run-2")

    assert publish(client, older, recs(3, "older"), prefix=PREFIX) == (3, False)
    assert current(client) == newer
    assert json.loads(client.get(user_key(older, "u001", PREFIX)))[0]["track_id"] == "older"


def test_two_runs_for_one_day_write_separate_sets():
    assert set_version("m1", date(2026, 11, 2), "scheduled__1") != set_version(
        "m1", date(2026, 11, 2), "asset_triggered__2"
    )
