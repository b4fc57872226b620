"""Our recommender against implicit's ALS and the most-popular list, on real listening data.

The HetRec 2011 Last.fm 2k data (``../shared/data``: 1,892 users, 17,632 artists, play counts;
non-commercial licence, read in place, never copied). One protocol for every model: each user's
artists, 20% hidden at random (``--seed``), the model fits on the rest, recommends ten artists
the user has not heard, judged on the hidden ones. ALS gets a grid over alpha (1, 10, 40; best
NDCG@10 kept, chosen on the test split itself, which flatters it); our hyper-parameters were
chosen on split seed 42 and the default seed here is another. Fit times: median of
``--repeats`` fits after an untimed one; ALS with BLAS on one thread as implicit asks, its own
threads on every core, torch on every core.

Targets: ours >= 1.05x the best ALS's NDCG@10, fit time <= 2x that ALS's.

    python bench/recommender.py [--quick] [--seed N] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from verdicts import exit_code, ratio_verdict

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR / "include")]

SHARED_DATA = [  # as tests/shared_data.py looks for it; a CI clone lives apart from ../shared
    os.environ.get("SPOTIFY_AGENT_SHARED_DATA", ""),
    str(PROJECT_DIR.parent / "shared" / "data"),
    "/work/shared/data",
]
RATINGS = Path("lastfm-hetrec2011-2k", "user_artists.dat")
ALS_ALPHAS = (1.0, 10.0, 40.0)
MIN_NDCG_VS_ALS, MAX_FIT_VS_ALS = 1.05, 2.0


def load(path: Path):  # -> Interactions
    import numpy as np

    from spotify_agent.ml.interactions import Interactions

    rows = np.loadtxt(path, skiprows=1, dtype=np.int64, ndmin=2)
    return Interactions.from_triples(rows[:, 0], rows[:, 1], rows[:, 2])


def timed_fit(make, train, repeats: int):  # -> (fitted model, median seconds)
    make().fit(train)  # untimed: imports, thread pools, first-touch allocations
    seconds, model = [], None
    for _ in range(repeats):
        model = make()
        began = time.perf_counter()
        model.fit(train)
        seconds.append(time.perf_counter() - began)
    return model, statistics.median(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing repeats (CI)")
    parser.add_argument("--seed", type=int, default=2026, help="the hold-out split's seed")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--data", type=Path, default=_shared_ratings())
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)

    from spotify_agent.ml.evaluation import evaluate
    from spotify_agent.ml.interactions import holdout_per_user
    from spotify_agent.ml.models import (
        AlsParams,
        AlsRecommender,
        EaseRecommender,
        PopularRecommender,
    )

    if args.data is None:
        parser.error("the Last.fm data was not found; set SPOTIFY_AGENT_SHARED_DATA or --data")
    data = load(args.data)
    train, test = holdout_per_user(data.matrix, fraction=0.2, seed=args.seed)
    candidates = {"ours (ease)": EaseRecommender, "popular": PopularRecommender}
    for alpha in ALS_ALPHAS:
        candidates[f"als alpha={alpha:g}"] = lambda alpha=alpha: AlsRecommender(
            AlsParams(alpha=alpha)
        )
    results = {}
    for name, make in candidates.items():
        model, seconds = timed_fit(make, train, repeats)
        results[name] = (evaluate(model.scores, train, test, k=10), seconds)

    users, items = data.shape
    print(
        f"Recommenders on Last.fm 2k ({users:,} users, {items:,} artists, {data.matrix.nnz:,} "
        f"pairs), 20% per-user hold-out, seed {args.seed}, fit time median of {repeats}"
    )
    print(
        f"{'model':<14} {'P@10':>7} {'R@10':>7} {'NDCG@10':>8} {'MAP@10':>7} "
        f"{'coverage':>9} {'fit s':>7}"
    )
    for name, (metrics, seconds) in results.items():
        print(
            f"{name:<14} {metrics.precision:>7.4f} {metrics.recall:>7.4f} {metrics.ndcg:>8.4f} "
            f"{metrics.map:>7.4f} {metrics.coverage:>9.4f} {seconds:>7.2f}"
        )
    als = max(
        (name for name in results if name.startswith("als")), key=lambda n: results[n][0].ndcg
    )
    ours, ours_seconds = results["ours (ease)"]
    best, best_seconds = results[als]
    verdicts = [
        ratio_verdict(
            "recommender",
            "ndcg_at_10",
            ours.ndcg,
            als,
            best.ndcg,
            op=">=",
            target=MIN_NDCG_VS_ALS,
            fmt="{:.4f}",
        ),
        ratio_verdict(
            "recommender",
            "fit_seconds",
            ours_seconds,
            als,
            best_seconds,
            op="<=",
            target=MAX_FIT_VS_ALS,
            fmt="{:.3f}",
        ),
    ]
    print()
    print("\n".join(verdicts))
    return exit_code(verdicts)


def _shared_ratings() -> Path | None:
    found = [Path(folder) / RATINGS for folder in SHARED_DATA if folder]
    return next((path for path in found if path.is_file()), None)


if __name__ == "__main__":
    sys.exit(main())
