"""Top-K lists and the ranking metrics a recommender is judged by.

Metrics at ``k`` over the users with at least one held-out item, relevance binary:
P@k (hits / k), recall@k (hits / held-out items), NDCG@k (discount 1/log2(rank + 1), ideal =
all held-out items first), MAP@k (mean of precision at each hit, over min(k, held-out)), and
catalogue coverage (distinct items recommended to anyone / items in the catalogue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    users: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def top_k(scores: np.ndarray, exclude: sp.csr_matrix, k: int) -> np.ndarray:
    """Indices of the ``k`` best items per row, best first, never an excluded or -inf item.

    Always ``k`` columns: rows with fewer candidates are padded with -1. Ties go to the lower
    index (a full sort: ``argpartition`` would break ties at the cut arbitrarily).
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    rows, cols = exclude.nonzero()
    scores[rows, cols] = -np.inf
    index = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    order = np.lexsort((index, -scores), axis=1)[:, :k]
    best = np.full((scores.shape[0], k), -1, dtype=np.int64)
    best[:, : order.shape[1]] = order
    found = np.take_along_axis(scores, order, axis=1)
    best[:, : order.shape[1]][~np.isfinite(found)] = -1
    return best


def ranking_metrics(recommended: np.ndarray, test: sp.csr_matrix, *, k: int = 10) -> RankingMetrics:
    """Score ``recommended`` (``top_k``'s output, a row per user) against held-out ``test``."""
    held = np.diff(test.indptr)
    judged = np.flatnonzero(held > 0)
    if judged.size == 0:
        raise ValueError("test: no user has a held-out item")
    top = recommended[judged, :k]
    truth = test[judged]
    hits = np.zeros(top.shape, dtype=bool)
    for row in range(top.shape[0]):
        relevant = truth.indices[truth.indptr[row] : truth.indptr[row + 1]]
        hits[row] = np.isin(top[row], relevant) & (top[row] >= 0)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    n_held = held[judged]
    ideal = np.cumsum(discount)[np.minimum(n_held, k) - 1]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    catalogue = test.shape[1]
    return RankingMetrics(
        precision=float(hits.sum(axis=1).mean() / k),
        recall=float((hits.sum(axis=1) / n_held).mean()),
        ndcg=float(((hits * discount).sum(axis=1) / ideal).mean()),
        map=float(((precision_at * hits).sum(axis=1) / np.minimum(n_held, k)).mean()),
        coverage=float(np.unique(recommended[recommended >= 0]).size / catalogue),
        users=int(judged.size),
    )


def recommended_top_k(
    scores: Callable[[sp.csr_matrix], np.ndarray],
    history: sp.csr_matrix,
    *,
    k: int,
    batch_users: int = 2048,
) -> np.ndarray:
    """``top_k`` of every user's unheard items, scored in batches of users (bounded memory)."""
    if history.shape[0] == 0:
        return np.zeros((0, k), dtype=np.int64)
    return np.vstack(
        [
            top_k(scores(history[start : start + batch_users]),
                  history[start : start + batch_users], k)
            for start in range(0, history.shape[0], batch_users)
        ]
    )  # fmt: skip


def evaluate(
    scores: Callable[[sp.csr_matrix], np.ndarray],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    k: int = 10,
    batch_users: int = 2048,
) -> RankingMetrics:
    """Recommend ``k`` unheard items to every user from their ``train`` history, then score."""
    recommended = recommended_top_k(scores, train, k=k, batch_users=batch_users)
    return ranking_metrics(recommended, test, k=k)
