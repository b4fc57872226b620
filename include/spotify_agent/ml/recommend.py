"""Top-K tracks for each listener from the serving model, each with a reason a person can read.

Pure: histories in, recommendations out; ``recommendation_store`` reads and writes them.
A listener's history is mapped onto the model's tracks by id. Never recommended: a track the
listener already played (in the history given), a track the service cannot show (not in the
catalogue it knows), anything the model scored as not a number. A listener the model knows
nothing of (no played track among those it scores) gets the popular fallback, counted as such.

The reason is the played track that contributed most to the recommendation (EASE: the largest
share of its score; ALS: the closest in factor space): "Because you listen to <track> by
<artist>" ("Because of what you listen to" when the catalogue cannot name that track). The
fallback says "Popular on the service right now".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.models import Recommender
from spotify_agent.ml.training import reindex_columns

POPULAR_REASON = "Popular on the service right now"
BATCH_USERS = 2048


@dataclass(frozen=True)
class TrackName:
    name: str
    artist_name: str


@dataclass(frozen=True)
class Recommendation:
    user_id: str
    rank: int
    track_id: str
    score: float | None
    because_track_id: str | None
    reason: str


@dataclass
class RecommendCounts:
    users: int = 0
    recommendations: int = 0
    fallback_users: int = 0
    filtered_heard: int = 0
    filtered_unavailable: int = 0
    not_a_number_scores: int = 0
    short_lists: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def recommend(
    model: Recommender,
    model_item_ids: Sequence[str] | np.ndarray,
    histories: Interactions,
    *,
    k: int,
    catalogue: Mapping[str, TrackName],
    popular: Sequence[str],
) -> tuple[list[Recommendation], RecommendCounts]:
    """``k`` recommendations per user of ``histories`` (fewer when fewer can be shown)."""
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    items = np.asarray(model_item_ids, dtype=object)
    showable = np.array([item in catalogue for item in items], dtype=bool)
    history = reindex_columns(histories.matrix, histories.item_ids, items)
    counts = RecommendCounts(users=histories.shape[0])
    counts.filtered_unavailable = int((~showable).sum())
    result: list[Recommendation] = []
    for start in range(0, history.shape[0], BATCH_USERS):
        batch = history[start : start + BATCH_USERS]
        scores = model.scores(batch) if batch.nnz else np.zeros((batch.shape[0], len(items)))
        nan = ~np.isfinite(scores) & ~np.isneginf(scores)
        counts.not_a_number_scores += int(nan.sum())
        scores = np.where(nan, -np.inf, scores)
        scores[:, ~showable] = -np.inf
        # no evidence: all the listener played is outside what the model scores (EASE leaves
        # rarely played tracks out), so every score is 0 and the ranking would be by id
        signal = np.any(np.isfinite(scores) & (scores != 0), axis=1)
        for offset in range(batch.shape[0]):
            row = start + offset
            user = str(histories.user_ids[row])
            played = history[row]
            if played.nnz == 0 or not signal[offset]:
                heard_all = set(histories.item_ids[histories.matrix[row].indices])
                picks = _fallback(user, popular, heard_all, catalogue, k)
                counts.fallback_users += 1
            else:
                picks = _ranked(model, items, played, scores[offset], user, k, catalogue)
                counts.filtered_heard += played.nnz
            counts.short_lists += len(picks) < k
            result.extend(picks)
    counts.recommendations = len(result)
    return result, counts


def _ranked(
    model: Recommender,
    items: np.ndarray,
    played: sp.csr_matrix,
    scores: np.ndarray,
    user: str,
    k: int,
    catalogue: Mapping[str, TrackName],
) -> list[Recommendation]:
    scores = scores.copy()
    scores[played.indices] = -np.inf
    candidates = np.flatnonzero(np.isfinite(scores))
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    picks = []
    for rank, column in enumerate(order, start=1):
        because = model.because(played, int(column))
        because_id = str(items[because]) if because is not None else None
        picks.append(
            Recommendation(
                user_id=user,
                rank=rank,
                track_id=str(items[column]),
                score=float(scores[column]),
                because_track_id=because_id,
                reason=POPULAR_REASON
                if model.kind == "popular"
                else _because(because_id, catalogue),
            )
        )
    return picks


def _fallback(
    user: str,
    popular: Sequence[str],
    heard: set[object],
    catalogue: Mapping[str, TrackName],
    k: int,
) -> list[Recommendation]:
    chosen = [t for t in popular if t not in heard and t in catalogue][:k]
    return [
        Recommendation(user, rank, track, None, None, POPULAR_REASON)
        for rank, track in enumerate(chosen, start=1)
    ]


def _because(track_id: str | None, catalogue: Mapping[str, TrackName]) -> str:
    if track_id is None:  # nothing the listener played speaks for it (ALS: no factor match)
        return "Popular with listeners like you"
    known = catalogue.get(track_id)
    if known is None:  # a played track the catalogue cannot name any more
        return "Because of what you listen to"
    return f"Because you listen to {known.name} by {known.artist_name}"
