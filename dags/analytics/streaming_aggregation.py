"""
### streaming_aggregation

Exact daily listening figures from `listening_events`, and today's so far, every hour.

* **Period**: the 01:00 UTC run writes yesterday, finished (`day`: an hour after midnight, so
  the hourly `listening_ingest` that started at midnight has landed the day's last plays); the
  00:00 run refreshes yesterday's partial; every other run aggregates today from midnight to
  the run's interval end (`partial`, replaced each hour and dropped when the day is written; a
  partial never replaces a written day). A day whose 01:00 run was skipped or failed for good is
  written by the next run. Trigger with `day` (YYYY-MM-DD, a finished UTC day) to aggregate a
  day again, for instance after late files or once the catalogue knows more tracks.
* **Figures** (`spotify_agent.analytics.aggregation`): per artist and country plays, exact
  unique listeners, listening time, timed plays and skips (a timed play under 30 s); per track
  plays and unique listeners; per listener plays, time and sessions (a new session after more
  than 30 minutes without a play); plays per UTC hour. Tables `agg_artist_country`,
  `agg_tracks`, `agg_listeners`, `agg_hours`, and `aggregation_periods` with what was set aside.
* **Dimensions**: a track counts for the first artist of `catalogue_tracks` (filled by
  `listening_ingest` from the tracks Spotify returns with the plays); a listener counts for the
  country in `listener_profiles` (written by the service's backend), or `ZZ` when unknown.
* **Bad plays** (a track the catalogue does not know, a negative or over-6-hour `ms_played`)
  are counted per reason in `aggregation_periods` and, by the day's run, quarantined whole with
  the reason (source `streaming_aggregation:<date>`, replaced when the day is run again); they
  change nothing else. Listeners being erased are left out of `agg_listeners` and the
  quarantine, checked again inside the write's transaction.
* **Memory**: the period's plays go from the warehouse to a Parquet extract in the worker's
  temp directory (`TMPDIR`) a batch at a time and are read back in streaming batches; a
  10M-play day peaks under 1 GiB (`bench/aggregation.py`, docs/BENCHMARKS.md). The extract is
  deleted after the run; one left by a killed task (it holds listener ids) is deleted by a
  later run once 6 hours old.
* **Idempotent**: the period's rows are replaced in one transaction; a re-run writes the same.
* **Announces** the finished day through the `aggregation_periods` Asset (`announce_day`,
  skipped for partials).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.analytics.confs import StreamingAggregationConf
from spotify_agent_airflow.assets import LISTENING_AGGREGATES
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.aggregation import (
    AggregateListeningOperator,
    AnnounceDayOperator,
)


@dag(
    schedule="0 * * * *",
    **dag_args(
        StreamingAggregationConf,
        deadline=timedelta(minutes=45),
        execution_timeout=timedelta(minutes=40),
    ),
    tags=["analytics"],
    doc_md=__doc__,
)
def streaming_aggregation() -> None:
    aggregate = AggregateListeningOperator(task_id="aggregate")
    aggregate >> AnnounceDayOperator(
        task_id="announce_day", aggregate_task_id="aggregate", outlets=[LISTENING_AGGREGATES]
    )


streaming_aggregation()
