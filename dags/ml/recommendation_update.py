"""
### recommendation_update

Every active listener's recommendations from the serving model, daily and after each promotion.

* **Runs** daily at 05:00 UTC, and whenever `model_training` promotes a model (the
  `model_registry` Asset); or when triggered, with `day`, `k`, `active_days`, `history_days`.
* **Who**: listeners with a play in the last `active_days` (default 30), except anyone with an
  erasure request still open. Their plays of the last `history_days` (default 90) are what the
  model reads.
* **What**: `k` (default 20) tracks each, best first, never one they already played, never one
  the service cannot show (not in `catalogue_tracks`). Each carries a reason: "Because you
  listen to <track> by <artist>", the played track that contributed most (ours: the largest
  share of the score; ALS: the nearest in factor space). A listener the model knows nothing of
  gets the most-listened tracks of the period ("Popular on the service right now"), counted.
* **Where**: `recommendations`, the (model, day) set replaced in one transaction with its audit
  row; then, when the `cache_backend` variable is `redis`, Redis: the whole set under
  `recs:<model_id>:<day>:<run tag>:<user_id>` first, then one `SET recs:current` to that
  version (never back to an older day), so a reader never sees half a set; keys expire after
  8 days. A re-run writes the same warehouse set.
* **Refusals**: no serving model yet skips the run (saying so); a model whose files fail their
  SHA-256 fails it before anything is written (`recommendations_refused`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag

from spotify_agent.ml.confs import RecommendationUpdateConf
from spotify_agent_airflow.assets import MODEL_PROMOTIONS, RECOMMENDATIONS
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.recommendation_update import UpdateRecommendationsOperator


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone="UTC"), assets=MODEL_PROMOTIONS
    ),
    **dag_args(
        RecommendationUpdateConf, deadline=timedelta(hours=2), execution_timeout=timedelta(hours=1)
    ),
    tags=["ml"],
    doc_md=__doc__,
)
def recommendation_update() -> None:
    UpdateRecommendationsOperator(task_id="publish", outlets=[RECOMMENDATIONS])


recommendation_update()
