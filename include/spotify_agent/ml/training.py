"""Train the candidates on a time-based split, judge them alike, and decide which one serves.

The hold-out is the future: models fit on the plays before ``cutoff`` and are judged on the
(user, track) pairs each user first played from ``cutoff`` on (already-heard tracks are never
a hit), for users and tracks the training data knows. Ours (EASE), ``implicit``'s ALS (alpha
grid, best kept) and the most-popular list are trained; the production model, whatever it is,
is judged on the same split through its own item ids. The gate then promotes ours only if it
beats both the production model and ALS on NDCG@10; with no production model yet, the best of
the three serves, so users always get recommendations.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp

from spotify_agent.core.progress import Progress
from spotify_agent.ml.evaluation import RankingMetrics, ranking_metrics, recommended_top_k
from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.models import (
    AlsParams,
    AlsRecommender,
    EaseParams,
    EaseRecommender,
    PopularRecommender,
    Recommender,
)
from spotify_agent.warehouse.times import day_start_utc

# Part of every model id: bump it when a change to this package changes what a fit produces.
CODE_VERSION = "recommender-1"
K = 10


@dataclass(frozen=True)
class Minimums:
    """Below these, a window is refused rather than trained on (metrics would be noise)."""

    users: int = 20
    items: int = 20
    interactions: int = 200
    test_users: int = 10


@dataclass(frozen=True)
class TrainingWindow:
    """Whole UTC days: candidates fit on ``[start, cutoff)``, are judged on ``[cutoff, end)``."""

    start: datetime
    cutoff: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, *, days: int, holdout_days: int) -> TrainingWindow:
        """The ``days`` whole UTC days before the day ``end`` falls in (00:00 UTC stays itself),
        so every run of one day, at whatever hour, reads the same plays."""
        last = day_start_utc(end)
        return cls(last - timedelta(days=days), last - timedelta(days=holdout_days), last)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "cutoff": self.cutoff.isoformat(),
                "end": self.end.isoformat()}  # fmt: skip


@dataclass(frozen=True)
class TimeSplit:
    """``train`` before the cutoff; ``test[u, i] = 1`` where user u first played item i after."""

    train: Interactions
    test: sp.csr_matrix

    @property
    def test_users(self) -> int:
        return int((np.diff(self.test.indptr) > 0).sum())


def time_split(before: Interactions, after: Interactions) -> TimeSplit:
    """Keep the pairs after the cutoff that training could predict: known user and item, unheard."""
    users = {user: row for row, user in enumerate(before.user_ids)}
    items = {item: col for col, item in enumerate(before.item_ids)}
    after_coo = after.matrix.tocoo()
    rows = np.array([users.get(after.user_ids[r], -1) for r in after_coo.row], dtype=np.int64)
    cols = np.array([items.get(after.item_ids[c], -1) for c in after_coo.col], dtype=np.int64)
    known = (rows >= 0) & (cols >= 0)
    test = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (rows[known], cols[known])),
        shape=before.shape,
    )
    heard = before.matrix.copy()
    heard.data[:] = 1
    new = test - test.multiply(heard)
    new.eliminate_zeros()
    return TimeSplit(before, sp.csr_matrix(new))


def refusal(split: TimeSplit, minimums: Minimums) -> str | None:
    """Why this window is too small to train on, or None."""
    users, items = split.train.shape
    found = {
        "users": users,
        "items": items,
        "interactions": split.train.matrix.nnz,
        "test_users": split.test_users,
    }
    short = [
        f"{found[name]} {name.replace('_', ' ')} (at least {getattr(minimums, name)})"
        for name in found
        if found[name] < getattr(minimums, name)
    ]
    return "too little data: " + ", ".join(short) if short else None


@dataclass
class Trained:
    """A fitted model with the item ids of its columns and how it did on the split."""

    model: Recommender
    item_ids: np.ndarray
    metrics: RankingMetrics
    fit_seconds: float
    label: str = ""

    @property
    def kind(self) -> str:
        return self.model.kind


@dataclass(frozen=True)
class TrainingParams:
    ease: EaseParams = field(default_factory=EaseParams)
    als: AlsParams = field(default_factory=AlsParams)
    als_alphas: tuple[float, ...] = (1.0, 10.0, 40.0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(model: Recommender, item_ids: np.ndarray, split: TimeSplit) -> RankingMetrics:
    """Metrics of ``model`` (columns = ``item_ids``) on the split, through the ids."""
    history = reindex_columns(split.train.matrix, split.train.item_ids, item_ids)
    ranked = recommended_top_k(model.scores, history, k=K)
    # model columns -> the split's columns, through the ids (-1: unknown to the split, no hit)
    columns = {item: col for col, item in enumerate(split.train.item_ids)}
    to_split = np.array([columns.get(item, -1) for item in item_ids] + [-1], dtype=np.int64)
    return ranking_metrics(to_split[ranked], split.test, k=K)


def candidate_fits(params: TrainingParams) -> int:
    """How many fits :func:`train_candidates` makes: ours, one ALS per alpha, the popular list."""
    return len(params.als_alphas) + 2


def train_candidates(
    split: TimeSplit, params: TrainingParams, *, progress: Progress | None = None
) -> list[Trained]:
    """Ours, the best ALS of the alpha grid, and the popular list, fitted and judged alike;
    ``progress`` advances by one per fit."""
    from dataclasses import replace

    def fit(model: Recommender, label: str) -> Trained:
        began = time.perf_counter()
        model.fit(split.train.matrix)
        seconds = time.perf_counter() - began
        item_ids = split.train.item_ids
        trained = Trained(model, item_ids, judge(model, item_ids, split), seconds, label)
        if progress is not None:
            progress.advance()
        return trained

    ours = fit(EaseRecommender(params.ease), "ours")
    als = max(
        (
            fit(AlsRecommender(replace(params.als, alpha=alpha)), f"als alpha={alpha:g}")
            for alpha in params.als_alphas
        ),
        key=lambda trained: trained.metrics.ndcg,
    )
    popular = fit(PopularRecommender(), "popular")
    return [ours, als, popular]


@dataclass(frozen=True)
class Decision:
    """Which registered kind serves after this run (None: the production model stays)."""

    serve: str | None
    reason: str


def decide(
    ours: RankingMetrics,
    als: RankingMetrics,
    popular: RankingMetrics,
    production: RankingMetrics | None,
    *,
    production_note: str = "",
) -> Decision:
    """The promotion gate, on NDCG@10; every reason names the numbers behind it."""
    figures = f"NDCG@10 ours {ours.ndcg:.4f}, ALS {als.ndcg:.4f}, popular {popular.ndcg:.4f}"
    if production is not None:
        figures += f", production {production.ndcg:.4f}"
        if ours.ndcg > production.ndcg and ours.ndcg > als.ndcg:
            return Decision("ease", f"promoted: beats production and ALS ({figures})")
        losers = [
            name
            for name, other in (("the production model", production), ("ALS", als))
            if ours.ndcg <= other.ndcg
        ]
        return Decision(
            None, f"kept production: ours does not beat {' or '.join(losers)} ({figures})"
        )
    note = f"; {production_note}" if production_note else ""
    if ours.ndcg > als.ndcg and ours.ndcg > popular.ndcg:
        return Decision("ease", f"promoted: no production model, beats ALS ({figures}){note}")
    if als.ndcg >= popular.ndcg:
        return Decision(
            "als",
            f"ALS serves: no production model and ours does not beat ALS ({figures}){note}",
        )
    return Decision("popular", f"popular list serves: no model beats it ({figures}){note}")


def data_fingerprint(*parts: Interactions) -> str:
    """SHA-256 of the training data (ids and weights): the same plays, the same fingerprint."""
    digest = hashlib.sha256()
    for part in parts:
        matrix = part.matrix.tocsr()
        for array in (matrix.indptr, matrix.indices, matrix.data):
            digest.update(np.ascontiguousarray(array).tobytes())
        for ids in (part.user_ids, part.item_ids):
            digest.update("\x1f".join(map(str, ids)).encode())
    return digest.hexdigest()


def model_id(kind: str, params: dict[str, Any], window: dict[str, str], data_sha256: str) -> str:
    """A model's id: what went into it. The same inputs give the same id (and the same model)."""
    key = json.dumps(
        {"kind": kind, "params": params, "window": window, "data": data_sha256,
         "code": CODE_VERSION},
        sort_keys=True,
    )  # fmt: skip
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def training_key(params: TrainingParams, window: dict[str, str], data_sha256: str) -> str:
    """A training run's key: every candidate's settings, the window, the data and the code
    version. A run whose key is registered already has nothing to train."""
    return model_id("run", params.as_dict(), window, data_sha256)


def reindex_columns(
    matrix: sp.csr_matrix, from_ids: Sequence[Any] | np.ndarray, to_ids: Sequence[Any] | np.ndarray
) -> sp.csr_matrix:
    """``matrix``'s columns moved to the positions of the same ids in ``to_ids`` (others dropped)."""
    target = {item: col for col, item in enumerate(to_ids)}
    mapping = np.array([target.get(item, -1) for item in from_ids], dtype=np.int64)
    coo = matrix.tocoo()
    cols = mapping[coo.col] if coo.nnz else coo.col
    keep = cols >= 0
    return sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], cols[keep])), shape=(matrix.shape[0], len(to_ids))
    )
