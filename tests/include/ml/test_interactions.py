import numpy as np
import pytest

from spotify_agent.ml.interactions import Interactions, holdout_per_user


def test_triples_become_one_matrix_with_repeats_summed_and_ids_beside_it():
    data = Interactions.from_triples(["u2", "u1", "u1"], ["b", "a", "a"], [3, 1, 4])

    assert list(data.user_ids) == ["u1", "u2"]
    assert list(data.item_ids) == ["a", "b"]
    assert data.matrix.toarray().tolist() == [[5.0, 0.0], [0.0, 3.0]]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_weight_that_is_not_a_finite_non_negative_number_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="weights"):
        Interactions.from_triples(["u"], ["a"], [bad])


def test_the_holdout_hides_a_fifth_of_each_users_items_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(50), 10)
    items = np.concatenate([rng.choice(200, 10, replace=False) for _ in range(50)])
    data = Interactions.from_triples(users, items, np.ones(len(users)))

    train, test = holdout_per_user(data.matrix, fraction=0.2, seed=3)

    assert (np.diff(test.indptr) == 2).all() and (np.diff(train.indptr) == 8).all()
    assert train.multiply(test).nnz == 0  # disjoint
    assert ((train + test) > 0).toarray().tolist() == (data.matrix > 0).toarray().tolist()


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    data = Interactions.from_triples(
        np.repeat(np.arange(20), 10), np.tile(np.arange(10), 20), np.ones(200)
    )

    first = holdout_per_user(data.matrix, seed=1)[1]
    assert (first != holdout_per_user(data.matrix, seed=1)[1]).nnz == 0
    assert (first != holdout_per_user(data.matrix, seed=2)[1]).nnz > 0


def test_a_user_with_one_item_keeps_it_for_training():
    data = Interactions.from_triples(
        ["solo", "many", "many", "many", "many", "many"], list("abcdef"), [1] * 6
    )

    train, test = holdout_per_user(data.matrix, fraction=0.2, seed=0)

    solo = list(data.user_ids).index("solo")
    assert train[solo].nnz == 1 and test[solo].nnz == 0
