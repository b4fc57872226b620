"""User-item listening matrices and the hold-out splits a recommender is judged on.

A matrix row is a user, a column an item (an artist or a track), a value how much the user
listened (plays or minutes; any non-negative weight). Ids travel beside the matrix so a model
never confuses a column number with an item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """``matrix[u, i]``: how much ``user_ids[u]`` listened to ``item_ids[i]`` (CSR, float32)."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    @classmethod
    def from_triples(
        cls,
        users: Sequence[object] | np.ndarray,
        items: Sequence[object] | np.ndarray,
        weights: Sequence[float] | np.ndarray,
    ) -> Interactions:
        """Sum repeated (user, item) pairs; ids are sorted, so the same triples give one matrix."""
        user_ids, rows = np.unique(np.asarray(users), return_inverse=True)
        item_ids, cols = np.unique(np.asarray(items), return_inverse=True)
        values = np.asarray(weights, dtype=np.float32)
        if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
            raise ValueError("weights: every listening weight must be a finite number >= 0")
        matrix = sp.csr_matrix(
            (values, (rows.ravel(), cols.ravel())), shape=(len(user_ids), len(item_ids))
        )
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return cls(matrix.astype(np.float32), user_ids, item_ids)

    @classmethod
    def concat(cls, *parts: Interactions) -> Interactions:
        """The parts' listening added up, over the union of their users and items."""
        users: list[object] = []
        items: list[object] = []
        weights: list[np.ndarray] = []
        for part in parts:
            coo = part.matrix.tocoo()
            users.extend(part.user_ids[coo.row])
            items.extend(part.item_ids[coo.col])
            weights.append(coo.data)
        return cls.from_triples(users, items, np.concatenate(weights) if weights else [])

    @property
    def shape(self) -> tuple[int, int]:
        users, items = self.matrix.shape
        return int(users), int(items)


def holdout_per_user(
    matrix: sp.csr_matrix, *, fraction: float = 0.2, seed: int = 0
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Hide ``fraction`` of each user's items (rounded; at least one is kept for training).

    Returns ``(train, test)`` with the same shape; ``test`` holds 1.0 where an item was hidden.
    The same seed and matrix give the same split.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: must be between 0 and 1, got {fraction}")
    coo = matrix.tocoo()
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(coo.nnz), coo.row))
    hidden = np.zeros(coo.nnz, dtype=bool)
    counts = np.bincount(coo.row, minlength=matrix.shape[0])
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for start, count in zip(starts, counts, strict=True):
        take = min(int(round(fraction * count)), count - 1)
        hidden[order[start : start + take]] = True
    train = sp.csr_matrix(
        (coo.data[~hidden], (coo.row[~hidden], coo.col[~hidden])), shape=matrix.shape
    )
    test = sp.csr_matrix(
        (np.ones(int(hidden.sum()), dtype=np.float32), (coo.row[hidden], coo.col[hidden])),
        shape=matrix.shape,
    )
    return train, test
