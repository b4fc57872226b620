"""The recommenders on matrices whose right answers are known, and on real listening data."""

import io

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from spotify_agent.ml.evaluation import evaluate, top_k
from spotify_agent.ml.interactions import Interactions, holdout_per_user
from spotify_agent.ml.models import (
    AlsParams,
    AlsRecommender,
    EaseParams,
    EaseRecommender,
    PopularRecommender,
)
from tests.shared_data import shared_data_dir


def two_scenes(seed: int = 0) -> sp.csr_matrix:
    """60 users; the first 30 listen only to items 0-9 (one scene), the others to 10-19."""
    rng = np.random.default_rng(seed)
    rows, cols, plays = [], [], []
    for user in range(60):
        scene = 0 if user < 30 else 10
        for item in rng.choice(10, 6, replace=False):
            rows.append(user)
            cols.append(scene + item)
            plays.append(rng.integers(1, 50))
    return sp.csr_matrix((np.array(plays, np.float32), (rows, cols)), shape=(60, 20))


# two scenes, two factors: ALS on a matrix this small needs the rank the data has
MODELS = [
    pytest.param(lambda: EaseRecommender(EaseParams(l2=1.0, min_listeners=2)), id="ease"),
    pytest.param(
        lambda: AlsRecommender(AlsParams(factors=2, regularization=1.0, iterations=30)), id="als"
    ),
]


@pytest.mark.parametrize("make", MODELS)
def test_a_listener_is_recommended_the_rest_of_their_scene_for_a_reason_from_it(make):
    matrix = two_scenes()
    model = make().fit(matrix)
    history = sp.csr_matrix(([10.0, 3.0], ([0, 0], [12, 15])), shape=(1, 20))

    best = top_k(model.scores(history), history, 4)[0]

    assert all(10 <= item < 20 for item in best) and not {12, 15} & set(best)
    assert all(model.because(history, int(item)) in (12, 15) for item in best)


def test_ease_solves_its_closed_form():
    matrix = two_scenes(seed=4)
    model = EaseRecommender(EaseParams(l2=0.7, popularity_penalty=0, min_listeners=1)).fit(matrix)

    from spotify_agent.ml.models import listening_strength

    x = listening_strength(matrix).toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 0.7 * np.eye(20))
    expected = np.eye(20) - p / np.diag(p)
    np.testing.assert_allclose(model.weights, expected - np.diag(np.diag(expected)), atol=1e-4)


def test_ease_does_not_recommend_items_too_few_people_heard():
    matrix = two_scenes().tolil()
    matrix[0, 19] = 0
    matrix[1, 19] = 0
    matrix[2, 5] = 7.0  # item 5 is heard by the scene anyway
    only = (matrix.tocsc()[:, 19] > 0).nnz
    model = EaseRecommender(EaseParams(min_listeners=only + 1)).fit(matrix.tocsr())

    assert 19 not in model.items
    assert np.isneginf(model.scores(matrix.tocsr()[:3])[:, 19]).all()
    assert model.because(matrix.tocsr()[40:41], 19) is None


def test_ease_keeps_at_most_max_items_the_most_listened():
    matrix = two_scenes()
    listeners = np.diff(matrix.tocsc().indptr)
    model = EaseRecommender(EaseParams(min_listeners=1, max_items=5)).fit(matrix)

    assert len(model.items) == 5
    assert listeners[model.items].min() >= np.sort(listeners)[-5]


@pytest.mark.parametrize("make", [*MODELS, pytest.param(PopularRecommender, id="popular")])
def test_a_model_saved_as_tensors_loads_without_pickle_and_scores_the_same(make):
    matrix = two_scenes()
    model = make().fit(matrix)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)

    loaded = type(model).from_state_dict(torch.load(buffer, weights_only=True), model.params())

    np.testing.assert_array_equal(loaded.scores(matrix[:5]), model.scores(matrix[:5]))


@pytest.mark.parametrize("make", MODELS)
def test_the_same_data_fits_the_same_model(make):
    first, second = make().fit(two_scenes()), make().fit(two_scenes())

    np.testing.assert_array_equal(first.scores(two_scenes()), second.scores(two_scenes()))


def test_a_history_over_another_catalogue_is_refused_by_name():
    model = EaseRecommender(EaseParams(min_listeners=1)).fit(two_scenes())

    with pytest.raises(ValueError, match="user_items"):
        model.scores(sp.csr_matrix((1, 21)))


def test_bad_hyper_parameters_are_refused_by_name():
    with pytest.raises(ValueError, match="l2"):
        EaseParams(l2=-1)
    with pytest.raises(ValueError, match="min_listeners"):
        EaseParams(min_listeners=0)


def test_on_real_listening_ours_beats_als_and_the_popular_list():
    rows = np.loadtxt(
        shared_data_dir() / "lastfm-hetrec2011-2k" / "user_artists.dat", skiprows=1, dtype=np.int64
    )
    data = Interactions.from_triples(rows[:, 0], rows[:, 1], rows[:, 2])
    train, test = holdout_per_user(data.matrix, seed=7)

    ours = evaluate(EaseRecommender().fit(train).scores, train, test)
    als = evaluate(AlsRecommender().fit(train).scores, train, test)
    popular = evaluate(PopularRecommender().fit(train).scores, train, test)

    assert ours.ndcg > als.ndcg > 2 * popular.ndcg
    assert ours.coverage > als.coverage
