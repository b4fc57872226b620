"""The time split, the refusal, the gate, the window and model ids, on data whose answers are
known."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import scipy.sparse as sp

from spotify_agent.ml.evaluation import RankingMetrics
from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.training import (
    Minimums,
    TrainingParams,
    TrainingWindow,
    data_fingerprint,
    decide,
    model_id,
    refusal,
    reindex_columns,
    time_split,
    training_key,
)


def metrics(ndcg: float) -> RankingMetrics:
    return RankingMetrics(precision=0, recall=0, ndcg=ndcg, map=0, coverage=0, users=1)


def test_the_hold_out_is_what_users_first_played_after_the_cut_and_training_could_know():
    before = Interactions.from_triples(["ann", "ann", "bob"], ["a", "b", "a"], [3, 1, 2])
    after = Interactions.from_triples(
        ["ann", "ann", "bob", "bob", "new-user"], ["a", "c", "b", "new-item", "a"], [1] * 5
    )

    split = time_split(before, after)

    rows, cols = split.test.nonzero()
    pairs = {
        (split.train.user_ids[u], split.train.item_ids[i]) for u, i in zip(rows, cols, strict=True)
    }
    # ann/a heard before, ann/c and bob/new-item unknown items, new-user unknown: only bob/b
    assert pairs == {("bob", "b")}
    assert split.test_users == 1


def test_a_window_too_small_is_refused_naming_each_shortfall():
    before = Interactions.from_triples(["u1", "u2"], ["a", "b"], [1, 1])
    split = time_split(before, Interactions.from_triples([], [], []))

    reason = refusal(split, Minimums(users=2, items=5, interactions=2, test_users=1))

    assert reason == "too little data: 2 items (at least 5), 0 test users (at least 1)"
    assert refusal(split, Minimums(users=1, items=1, interactions=1, test_users=0)) is None


@pytest.mark.parametrize(
    ("ours", "als", "popular", "production", "serves", "starts"),
    [
        (0.30, 0.25, 0.10, 0.28, "ease", "promoted: beats production and ALS"),
        (0.30, 0.25, 0.10, 0.31, None, "kept production: ours does not beat the production"),
        (0.30, 0.32, 0.10, 0.28, None, "kept production: ours does not beat ALS"),
        (0.30, 0.25, 0.10, None, "ease", "promoted: no production model"),
        (0.20, 0.25, 0.10, None, "als", "ALS serves"),
        (0.05, 0.04, 0.10, None, "popular", "popular list serves"),
    ],
)
def test_the_gate(ours, als, popular, production, serves, starts):
    decision = decide(
        metrics(ours),
        metrics(als),
        metrics(popular),
        metrics(production) if production is not None else None,
    )

    assert decision.serve == serves
    assert decision.reason.startswith(starts)
    assert f"ours {ours:.4f}" in decision.reason and f"ALS {als:.4f}" in decision.reason


def test_a_tie_does_not_promote():
    assert decide(metrics(0.3), metrics(0.2), metrics(0.1), metrics(0.3)).serve is None


def test_model_ids_change_with_any_input_and_only_then():
    window = {"start": "2026-08-01", "end": "2026-11-01"}
    base = model_id("ease", {"l2": 2.5}, window, "abc")

    assert model_id("ease", {"l2": 2.5}, dict(window), "abc") == base
    assert len({base, model_id("ease", {"l2": 3}, window, "abc"),
                model_id("ease", {"l2": 2.5}, window, "abd"),
                model_id("als", {"l2": 2.5}, window, "abc")}) == 4  # fmt: skip


def test_the_window_is_whole_utc_days_before_the_runs_day_at_any_hour():
    day = datetime(2026, 11, 2, tzinfo=UTC)
    runs = [day, day + timedelta(hours=3), day + timedelta(hours=23, minutes=59, seconds=59),
            datetime(2026, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=1)))]  # fmt: skip
    windows = {TrainingWindow.ending(run, days=90, holdout_days=7) for run in runs}

    assert windows == {TrainingWindow(datetime(2026, 8, 4, tzinfo=UTC),
                                      datetime(2026, 10, 26, tzinfo=UTC), day)}  # fmt: skip
    assert TrainingWindow.ending(day + timedelta(days=1), days=90, holdout_days=7).end > day


def test_the_training_key_follows_settings_window_and_data_only():
    window = TrainingWindow.ending(datetime(2026, 11, 2, 14, 37, tzinfo=UTC), days=90,
                                   holdout_days=7).as_dict()  # fmt: skip
    key = training_key(TrainingParams(), window, "abc")

    assert training_key(TrainingParams(), dict(window), "abc") == key
    assert training_key(TrainingParams(als_alphas=(1.0,)), window, "abc") != key
    assert training_key(TrainingParams(), window, "abd") != key
    assert training_key(TrainingParams(), {**window, "end": "2026-11-03T00:00:00+00:00"},
                        "abc") != key  # fmt: skip


def test_the_data_fingerprint_follows_the_plays():
    one = Interactions.from_triples(["u", "v"], ["a", "b"], [1, 2])
    same = Interactions.from_triples(["v", "u"], ["b", "a"], [2, 1])
    more = Interactions.from_triples(["u", "v"], ["a", "b"], [1, 3])

    assert data_fingerprint(one) == data_fingerprint(same) != data_fingerprint(more)


def test_columns_move_to_another_catalogue_by_id():
    matrix = sp.csr_matrix(np.array([[1, 2, 3]], dtype=np.float32))

    moved = reindex_columns(matrix, ["a", "b", "c"], ["c", "x", "a"])

    assert moved.toarray().tolist() == [[3, 0, 1]]
