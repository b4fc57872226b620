"""
### trend_detection

Rising, falling and new artists and tracks, each day, against their trailing 28 days.

* **Partitions**: one run per finished UTC day (partition key `YYYY-MM-DD`), each time
  `streaming_aggregation` writes that day (the `aggregation_periods` Asset event carries the
  key). The baseline is read from the warehouse, whatever days it holds. Runs one at a time, in
  the order the days were written, so a later day's baseline holds the earlier days. Under
  `airflow dags test` (no partition key) give `day`. A day aggregated again later (a late file)
  re-runs its own trends; later days' trends keep the baseline they were judged against (clear
  their runs to judge them again: docs/OPERATIONS.md).
* **Rules** (`spotify_agent.analytics.trends`): the day's plays against the entity's usual
  level over the aggregated days of the previous 28 (the median; the same weekday's when that
  is further from the day, so a weekly rhythm is no trend), in units of 1.4826 x MAD (never
  less than Poisson noise); `rising` at `z_threshold` (default 5) and 1.5x the usual level, or
  a 7-day climb of 30% over the week before and the typical earlier week that is 5 standard
  deviations of Poisson noise; `falling` the mirror image; `new` for no play in the baseline;
  each needs `min_plays` (default 50) a day of support and 14 aggregated baseline days. Flat
  noise gives fewer than 1 false trend in 10,000.
* **Rows** (`listening_trends`): one per trend with the numbers behind it (plays, listeners,
  baseline median, MAD, days and the level judged against, z, ratio, 7-day sums,
  week-over-week growth and its z, score, `significant`). A re-run replaces the day's rows in
  one transaction with its audit row.
* **Events** (keyed by the day): `detect` updates the `listening_trends` Asset every run
  (`reporting` runs on it); `announce_significant` updates `significant_listening_trends` only
  when some trend scored 8 or more (new entries: 200 plays), naming them in the extra, and
  `start_content` then starts a `content_generation` run (Airflow queues no unpartitioned DAG
  from a keyed event, so this run starts it, once per run). Each run's counts are statsd metrics (`spotify_agent.trends_detected.*`) to alert on.
* **Too little history** (fewer than 14 aggregated days before the day): no trend, the audit
  row says why (`skipped`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import PartitionedAssetTimetable, StartOfDayMapper, dag

from spotify_agent.analytics.confs import TrendDetectionConf
from spotify_agent_airflow.assets import (
    LISTENING_AGGREGATES,
    LISTENING_TRENDS,
    SIGNIFICANT_TRENDS,
)
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.common import StartDagRunOperator
from spotify_agent_airflow.operators.trend_detection import (
    AnnounceSignificantTrendsOperator,
    DetectTrendsOperator,
)


@dag(
    schedule=PartitionedAssetTimetable(
        assets=LISTENING_AGGREGATES,
        default_partition_mapper=StartOfDayMapper(input_format="%Y-%m-%d"),
    ),
    **dag_args(
        TrendDetectionConf, deadline=timedelta(minutes=30), execution_timeout=timedelta(minutes=20)
    ),
    tags=["analytics"],
    doc_md=__doc__,
)
def trend_detection() -> None:
    detect = DetectTrendsOperator(task_id="detect", outlets=[LISTENING_TRENDS])
    announce = AnnounceSignificantTrendsOperator(
        task_id="announce_significant", detect_task_id="detect", outlets=[SIGNIFICANT_TRENDS]
    )
    (
        detect
        >> announce
        >> StartDagRunOperator(task_id="start_content", trigger_dag_id="content_generation")
    )


trend_detection()
