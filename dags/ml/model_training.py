"""
### model_training

Trains the recommender every week (and on demand), judges it honestly, and promotes it only
when it is better than what serves.

* **Data**: plays per (user, track) from `listening_events` over the `window_days` (default 90)
  whole UTC days before `until` (default: 00:00 UTC of the run's day, so every run of one day
  reads the same plays). The last `holdout_days` (default 7) are the hold-out: the tracks each
  user *first* played then, for users and tracks known before.
* **Candidates**: ours, EASE (an item-item model solved in closed form in torch; `l2`,
  `popularity_penalty`, `min_listeners`, `max_items`), `implicit`'s ALS (`als_factors`,
  `als_iterations`, `seed`; alpha 1, 10 and 40, the best kept) and the most-popular list, all fitted
  on the plays before the hold-out and judged on it: P@10, recall@10, NDCG@10, MAP@10 and
  catalogue coverage. The production model is judged on the same hold-out (refit with its own
  parameters on this run's training plays when its window overlaps the hold-out, so it is never
  judged on plays it learned from).
* **Registry**: every candidate is refit on the whole window and registered: weights
  (`state_dict`, no pickle), item ids and a JSON card under `models/<model_id>/` in the object
  store, a row in `model_registry`. The id is a hash of kind, parameters, window, data and code
  version; files are written once. A re-run with the same inputs (the same window, plays and
  settings: a second run the same day) finds its models, trains nothing, logs and returns
  `reused models <ids>: same data and settings` (audit `model_reused`) and applies the gate
  again (which changes nothing if it already ran).
* **Gate** (`promote`): ours serves only if it beats the production model *and* ALS on NDCG@10;
  otherwise the production model stays and every candidate's row says why. With no production
  model yet, the best of ours, ALS and the popular list serves, so users always get
  recommendations. A promotion updates the `model_registry` Asset (recommendation_update runs
  on it); no change skips the task.
* **Refusals**: a window with fewer than 20 users, 20 tracks, 200 (user, track) pairs or 10
  users with something to judge trains nothing; the audit row (`model_refused`) says which.
  A production model whose files fail their SHA-256 is not judged (the gate says so).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.ml.confs import ModelTrainingConf
from spotify_agent_airflow.assets import MODEL_PROMOTIONS
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.model_training import (
    PromoteModelOperator,
    TrainRecommenderOperator,
)


@dag(
    schedule="0 3 * * 1",  # Mondays 03:00 UTC: the week's plays have landed
    **dag_args(
        ModelTrainingConf, deadline=timedelta(hours=3), execution_timeout=timedelta(hours=2)
    ),
    tags=["ml"],
    doc_md=__doc__,
)
def model_training() -> None:
    TrainRecommenderOperator(task_id="train") >> PromoteModelOperator(
        task_id="promote", train_task_id="train", outlets=[MODEL_PROMOTIONS]
    )


model_training()
