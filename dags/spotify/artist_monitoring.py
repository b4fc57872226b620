"""
### artist_monitoring

Daily snapshot of every watched artist's profile and releases, and the changes since the
artist's previous snapshot.

* **Watch list**: the `watched_artists` table. Add artists by triggering the DAG with
  `add_artist_ids` (Spotify artist ids, 22 characters); they are watched from then on.
* **Snapshots** (`artist_snapshots`, one row per artist and day, the data interval's end) and
  **releases** (`artist_releases`, with the day each was first seen).
* **Events** (`artist_events`): `new_release`, `followers_jump` (>= `follower_jump_pct` percent),
  `popularity_jump` (>= `popularity_jump` points), `genres_changed`, `name_changed`. Fields the
  Spotify tier withholds (development tier: followers, popularity) are stored as missing and never
  produce an event.
* Batches of 50 artists run as mapped tasks in the `spotify_api` pool: one several-ids call per
  batch on the extended tier, one call per artist on the development tier. Payloads that fail
  validation are quarantined with the reason and fetched once more.

Re-running a day replaces that day's snapshots and finds the same events.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent_airflow.assets import ARTIST_EVENTS, ARTIST_SNAPSHOTS
from spotify_agent_airflow.defaults import SPOTIFY_POOL, dag_args
from spotify_agent_airflow.operators.artist_monitoring import (
    ArtistSnapshotOperator,
    PlanArtistBatchesOperator,
)
from spotify_agent_airflow.operators.common import SummariseOperator


@dag(
    schedule="@daily",
    **dag_args(ArtistMonitoringConf, deadline=timedelta(hours=2)),
    tags=["spotify"],
    doc_md=__doc__,
)
def artist_monitoring() -> None:
    batches = PlanArtistBatchesOperator(task_id="plan_batches")
    snapshots = ArtistSnapshotOperator.partial(task_id="snapshot_batch", pool=SPOTIFY_POOL).expand(
        artist_ids=batches.output
    )
    SummariseOperator(
        task_id="summarise", results=snapshots.output, outlets=[ARTIST_SNAPSHOTS, ARTIST_EVENTS]
    )


artist_monitoring()
