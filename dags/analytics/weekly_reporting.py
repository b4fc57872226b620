"""
### weekly_reporting

The weekly listening report of one ISO week (Monday to Sunday, UTC): the daily report's
figures, charts and tables over the week, against the week before (listeners distinct over
each week), coloured by whether the change is good for the business; charts over eight weeks.

* **Partitions**: one partition per ISO week (key `2026-11-16 (W47)`: its Monday and week
  number). Each daily report of the week (the `reports` Asset event, keyed by the day) runs
  the week's report again, so it is there from the week's first reported day and is rebuilt
  as each day comes in, until its Sunday; a late day re-runs its week, however old. A week
  with a missing or failed day still gets its report, which names the days missing. Under
  `airflow dags test` (no partition key) give `day`, any day of the week.
* **Stored** under `reports/weekly/<YYYY-Www>/` in the object store (`report.html`, the
  CSV extracts of `reporting` and `summary.json`), recorded in `reports`; a re-run writes the
  same bytes.
* **Opened** from the `build` task's *Weekly report* link, or at `<api server>/reports/` (the
  index's *Weekly* rows, with the week's plays and listeners against the week before).
* **E-mailed** (`email`), as `reporting` e-mails the daily one, once the week is over: a week
  still in progress is rebuilt but not sent; a late day's new figures are sent again.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import PartitionedAssetTimetable, StartOfWeekMapper, dag

from spotify_agent.analytics.confs import ReportingConf
from spotify_agent_airflow.assets import LISTENING_REPORTS, WEEKLY_REPORTS
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.reporting import BuildReportsOperator, EmailReportsOperator


@dag(
    # Every daily report's key (YYYY-MM-DD) maps to its week's ("2026-11-16 (W47)").
    schedule=PartitionedAssetTimetable(
        assets=LISTENING_REPORTS,
        default_partition_mapper=StartOfWeekMapper(input_format="%Y-%m-%d"),
    ),
    **dag_args(
        ReportingConf, deadline=timedelta(minutes=45), execution_timeout=timedelta(minutes=20)
    ),
    tags=["analytics"],
    doc_md=__doc__,
)
def weekly_reporting() -> None:
    build = BuildReportsOperator(task_id="build", kind="weekly", outlets=[WEEKLY_REPORTS])
    build >> EmailReportsOperator(task_id="email", build_task_id="build")


weekly_reporting()
