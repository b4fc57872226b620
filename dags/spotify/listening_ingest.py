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

**One play, whichever source**: a landed file gives whole seconds (`08:00:05Z`), recently-played
milliseconds (`08:00:05.123Z`). Two events of the same user and the same track whose `played_at`
is equal once both are truncated to the second are one play: the second to arrive is counted as
a duplicate, whichever source came first, and the first stored is kept (a file's `ms_played`, or
the API's milliseconds). Plays a second apart, or of another track, stay two plays. Two ingests
of the same user at once (a file and recently-played in the same run) cannot both store it: the
check and the insert hold a lock per user.

**Unknown tracks**: before a batch is stored, the tracks its plays name that `catalogue_tracks`
lacks (a file's plays of tracks nobody played through the API; recently-played brings its track
objects) are looked up through the conf's `catalogue_conn_id` (`spotify_default`; its app's
client credentials and tier): `GET /v1/tracks?ids=` with 50 ids per call on the extended tier,
`GET /v1/tracks/{id}` per id in development mode, within the hook's retry and `Retry-After` cap;
a longer wait hands the task back to Airflow before the file is stored, and the retry asks only
what is left (found tracks are committed 50 ids at a time). Ids Spotify does not know are
quarantined (source `spotify:track`, field `track_id`) and not asked again for 7 days; delete
the row to have one asked sooner. `look_up_tracks: false` asks nothing (their plays wait, set
aside by the aggregation). Results count `tracks_learned`, `tracks_unknown_to_spotify`,
`tracks_not_asked_again` and the calls made.

**Partitions**: `summarise` updates the `listening_events` Asset with the UTC days of the plays
the run stored as partition keys (`YYYY-MM-DD`), one event per day: `streaming_aggregation` runs
once for each of those days, so a late file for last Tuesday re-runs last Tuesday only. A run
that stored nothing announces no day. When the catalogue knows a track (looked up, or brought by
recently-played) whose plays an earlier aggregation set aside as `unknown_track`, the days of
those plays are announced too (`days_re_run`), so their aggregation runs again and counts them. `listening_days` announces each day again at its midnight, and
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
