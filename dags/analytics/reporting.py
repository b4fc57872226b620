"""
### reporting

The daily listening report: one HTML file a person reads in a minute, and CSV extracts for
those who want the numbers (the weekly one: `weekly_reporting`).

* **Partitions**: one run per finished UTC day (partition key `YYYY-MM-DD`), after
  `trend_detection` wrote that day's trends (the `listening_trends` Asset event carries the
  key); a day aggregated again (a late file) gets its report again. Under `airflow dags test`
  (no partition key) give `day`. Its `reports` Asset event, keyed by the day, runs
  `weekly_reporting` for the day's week.
* **The report** (`spotify_agent.analytics.report`): plays, listeners, hours, skip rate and
  plays set aside, each against the previous day, the same day a week before and the mean of
  the 7 days before (their aggregated days), coloured by whether the change is good for the
  business (more plays, listeners, hours: green; a higher skip rate or more plays set aside:
  red), with a table of the comparisons; three sentences (volume against the previous day and
  the same weekday before, the biggest mover, data quality); charts (plays and listeners over
  four weeks, top movers with their robust scores, country split, top artists, hours of the
  day, skip rate, plays set aside per reason); the tables with the numbers behind them. A
  rising or falling trend is shown only with at least 3 days of history (days among the 28
  before with the artist's or track's plays; the table's note counts those left out); new
  entries are listed apart. A chart with nothing to draw says why in its frame. Self-contained:
  the charts are inline SVG.
* **Stored** under `reports/<daily|weekly>/<YYYY-MM-DD|YYYY-Www>/` in the object store
  (`report.html`, `comparisons.csv`, `daily.csv`, `artists.csv`, `tracks.csv`,
  `countries.csv`, `movers.csv`, `data_quality.csv`, and `summary.json` for the index);
  recorded in `reports`. A re-run writes the same bytes (on the same image: fonts and
  matplotlib shape the SVG).
* **Opened** from the `build` task's *Daily report* / *Weekly report* links, or at
  `<api server>/reports/`, an index of every report, newest first, daily then weekly, with its
  date, title, plays and listeners and their changes (the Airflow login, with the right to read
  this DAG); the `reports` Asset event names each URL.
* **E-mailed** (`email`) to `email_to` (or the `report_recipients` variable) through the
  `smtp_reports` connection: the three sentences in the body, the report and extracts attached.
  Skipped with the reason when either is missing; the same text is not sent again to the same
  recipients unless `resend`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import PartitionedAssetTimetable, StartOfDayMapper, dag

from spotify_agent.analytics.confs import ReportingConf
from spotify_agent_airflow.assets import LISTENING_REPORTS, LISTENING_TRENDS
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.reporting import BuildReportsOperator, EmailReportsOperator


@dag(
    schedule=PartitionedAssetTimetable(
        assets=LISTENING_TRENDS, default_partition_mapper=StartOfDayMapper(input_format="%Y-%m-%d")
    ),
    **dag_args(
        ReportingConf, deadline=timedelta(minutes=45), execution_timeout=timedelta(minutes=20)
    ),
    tags=["analytics"],
    doc_md=__doc__,
)
def reporting() -> None:
    build = BuildReportsOperator(task_id="build", outlets=[LISTENING_REPORTS])
    build >> EmailReportsOperator(task_id="email", build_task_id="build")


reporting()
