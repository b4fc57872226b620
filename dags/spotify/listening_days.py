"""
### listening_days

Announces one UTC day of `listening_events` again, so its chain (`streaming_aggregation`,
`trend_detection`, `reporting`, `weekly_reporting`) runs for it. Reads and writes nothing else.

* **Daily at midnight UTC** it announces the day that just ended: a day whose last plays
  landed before midnight (so no ingest after midnight announced it) is still aggregated as a
  finished day; plays of it landed later announce it again. Partition key: the day
  (`YYYY-MM-DD`; a `CronPartitionTimetable` with `run_offset=-1`: the midnight tick is the
  day before it).
* **Backfill** (re-aggregate a range of days, the rest of the chain follows, day by day in
  order): `airflow backfill create --dag-id listening_days --from-date 2026-11-20 --to-date
  2026-11-22 --reprocess-behavior completed --max-active-runs 1` announces 2026-11-20, 21 and
  22 (both bounds included; `completed` re-runs days that already ran). Keep
  `--max-active-runs 1`: a backfill runs 10 days at once by default (not this DAG's
  `max_active_runs`), they would be announced in any order, and a day's trends could be judged
  before the day before it is written. docs/OPERATIONS.md says more.
* **One day**: trigger with `partition_key` (REST `POST /api/v2/dags/listening_days/dagRuns
  {"logical_date": null, "partition_key": "2026-11-20"}`) or, under `airflow dags test` or the
  trigger form, with `day`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronPartitionTimetable, dag

from spotify_agent.spotify.confs import ListeningDaysConf
from spotify_agent_airflow.assets import LISTENING_EVENTS
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.listening_days import AnnounceListeningDayOperator


@dag(
    # The midnight tick that starts day D + 1 is partition D: the day the tick closes.
    schedule=CronPartitionTimetable(
        "0 0 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"
    ),
    **dag_args(
        ListeningDaysConf, deadline=timedelta(minutes=10), execution_timeout=timedelta(minutes=5)
    ),
    tags=["spotify", "ingest"],
    doc_md=__doc__,
)
def listening_days() -> None:
    AnnounceListeningDayOperator(task_id="announce_day", outlets=[LISTENING_EVENTS])


listening_days()
