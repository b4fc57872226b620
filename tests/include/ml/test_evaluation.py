import numpy as np
import pytest
import scipy.sparse as sp

from spotify_agent.ml.evaluation import ranking_metrics, top_k


def test_top_k_ranks_best_first_and_never_returns_what_the_user_heard():
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.2, 0.8, 0.8, 0.1]], dtype=np.float32)
    heard = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))

    assert top_k(scores, heard, 2).tolist() == [[3, 2], [1, 2]]  # a tie goes to the lower index


def test_top_k_pads_with_minus_one_when_too_few_items_can_be_recommended():
    scores = np.array([[0.5, -np.inf, 0.2]], dtype=np.float32)
    heard = sp.csr_matrix(np.array([[0, 0, 1]]))

    assert top_k(scores, heard, 3).tolist() == [[0, -1, -1]]


def test_top_k_always_has_k_columns_even_for_a_smaller_catalogue():
    scores = np.array([[0.5, 0.7]], dtype=np.float32)

    assert top_k(scores, sp.csr_matrix((1, 2)), 4).tolist() == [[1, 0, -1, -1]]


def test_among_many_equal_scores_the_lower_indices_come_first():
    scores = np.ones((3, 1000), dtype=np.float32)  # a popular list's integer counts tie a lot
    scores[:, 500] = 2

    assert top_k(scores, sp.csr_matrix((3, 1000)), 4).tolist() == [[500, 0, 1, 2]] * 3


def test_metrics_match_a_hand_computed_example():
    # user 0: hits at ranks 1 and 3 of 3 recommended, 2 held out; user 1: no hit, 1 held out
    recommended = np.array([[4, 5, 6], [1, 2, 3]])
    test = sp.csr_matrix((np.ones(3), ([0, 0, 1], [4, 6, 0])), shape=(2, 8))

    metrics = ranking_metrics(recommended, test, k=3)

    assert metrics.users == 2
    assert metrics.precision == pytest.approx((2 / 3 + 0) / 2)
    assert metrics.recall == pytest.approx((2 / 2 + 0) / 2)
    ideal = 1 + 1 / np.log2(3)
    assert metrics.ndcg == pytest.approx(((1 + 1 / np.log2(4)) / ideal + 0) / 2)
    assert metrics.map == pytest.approx(((1 / 1 + 2 / 3) / 2 + 0) / 2)
    assert metrics.coverage == pytest.approx(6 / 8)


def test_users_with_nothing_held_out_are_not_judged_and_no_one_is_an_error():
    recommended = np.array([[1], [2]])
    test = sp.csr_matrix((np.ones(1), ([1], [2])), shape=(2, 3))

    assert ranking_metrics(recommended, test, k=1).users == 1
    with pytest.raises(ValueError, match="test"):
        ranking_metrics(recommended, sp.csr_matrix((2, 3)), k=1)
