"""
### listening_ingest

Hourly, brings listening events into `listening_events` from two sources:

* **recently played**: for each Spotify connection in `spotify_conn_ids` (one connected user per
  connection, through its refresh token), the plays since that user's cursor in
  `listening_cursors`; the cursor moves in the same transaction as the events. Spotify keeps only
  the latest 50 plays per user, so a user who plays more than 50 tracks between runs loses the
  oldest (run hourly or more often for heavy listeners).
* **landed files**: every `*.jsonl`, `*.json` (one event per line) or `*.parquet` file under
  `landing/listening/` in the object store (suffixes in any case: `.JSONL`, `.Parquet`), with
  fields `user_id`, `track_id` (Spotify id), `played_at` (ISO 8601 with a time zone), optional
  `ms_played` (an integer: `true`, `"1000"` or `1000.0` is quarantined) and `context_uri`.
  A symbolic link, or a path that resolves outside `landing/listening/`, is never read: it is
  quarantined once as a reference with the reason and counted as `refused_files`. A file is
  recorded in `ingested_files` by key, size and SHA-256: a file read before is not even listed
  again, a changed file is read again (only its new events are added). At most 500 files are read
  per run; the rest wait for the next.

Every event is validated; bad ones (malformed line, missing or wrong field, a time outside
2008..now) go to `quarantine` with the file and line, and a reason naming the field and the
problem, never the value. A record over 64 KiB is kept once, in the object store as
`quarantine/<sha256>`, referenced from its row by key, size and SHA-256. Events are keyed by
`(user_id, played_at, track_id)`, so overlaps are stored once and counted as duplicates.
Recently-played does not say how long a track played: `ms_played` stays empty for those events.

**Partitions**: `summarise` updates the `listening_events` Asset with the UTC days of the plays
the run stored as partition keys (`YYYY-MM-DD`), one event per day: `streaming_aggregation` runs
once for each of those days, so a late file for last Tuesday re-runs last Tuesday only. A run
that stored nothing announces no day. `listening_days` announces each day again at its midnight, and
is the way to backfill a range of days.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import TriggerRule, dag

from spotify_agent.spotify.confs import ListeningIngestConf
from spotify_agent_airflow.assets import LISTENING_EVENTS
from spotify_agent_airflow.defaults import SPOTIFY_POOL, dag_args
from spotify_agent_airflow.operators.common import SummariseOperator
from spotify_agent_airflow.operators.listening_ingest import (
    IngestEventFileOperator,
    ListLandingFilesOperator,
    PlanUsersOperator,
    RecentlyPlayedOperator,
)


@dag(
    schedule="@hourly",
    **dag_args(
        ListeningIngestConf, deadline=timedelta(minutes=45), execution_timeout=timedelta(minutes=20)
    ),
    dagrun_timeout=timedelta(minutes=55),
    tags=["spotify", "ingest"],
    doc_md=__doc__,
)
def listening_ingest() -> None:
    users = RecentlyPlayedOperator.partial(task_id="recently_played", pool=SPOTIFY_POOL).expand(
        spotify_conn_id=PlanUsersOperator(task_id="plan_users").output
    )
    files = IngestEventFileOperator.partial(task_id="ingest_file").expand(
        object_key=ListLandingFilesOperator(task_id="list_landing_files").output
    )
    SummariseOperator(
        task_id="summarise",
        results=[users.output, files.output],
        outlets=[LISTENING_EVENTS],
        trigger_rule=TriggerRule.NONE_FAILED,
    )


listening_ingest()
