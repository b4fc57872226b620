"""
### streaming_aggregation

Exact daily listening figures from `listening_events`, per day partition, and today's so far.

* **Partitions**: one run per UTC day of `listening_events` (partition key `YYYY-MM-DD`),
  whenever a run of `listening_ingest` stores plays of that day, `listening_days` announces it
  (at midnight for the day that ended, or in a backfill), or someone triggers it with a `partition_key`.
  A day whose midnight has passed is written finished (`day`) and announced downstream; today
  is written as its partial (`partial`, the day so far, replaced by each run and dropped when
  the day is written; a partial never replaces a written day) and announces nothing. A late
  file re-runs only the days it holds. Under `airflow dags test` (no partition key) give `day`.
  Runs one at a time, in the order the days were announced.
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
* **Idempotent**: the day's rows are replaced in one transaction; a re-run writes the same, and
  two days never touch each other's rows.
* **Announces** the finished day through the `aggregation_periods` Asset, with the day as its
  partition key (`announce_day`, skipped for partials): `trend_detection` runs for it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import PartitionedAssetTimetable, StartOfDayMapper, dag

from spotify_agent.analytics.confs import StreamingAggregationConf
from spotify_agent_airflow.assets import LISTENING_AGGREGATES, LISTENING_EVENTS
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.aggregation import (
    AggregateListeningOperator,
    AnnounceDayOperator,
)


@dag(
    schedule=PartitionedAssetTimetable(
        assets=LISTENING_EVENTS, default_partition_mapper=StartOfDayMapper(input_format="%Y-%m-%d")
    ),
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
