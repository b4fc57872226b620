"""
### playlist_update

Keeps every managed playlist equal to its target track list, in the fewest write calls.

* **Managed playlists** (`managed_playlists` table) are added or changed by triggering the DAG
  with `manage` (a list of `{"playlist_id", "rule", "size", "window_days", "track_ids",
  "spotify_conn_id"}`), and dropped with `unmanage_playlist_ids`. The connection's user (its
  refresh token) must own the playlist. `playlist_ids` limits a run to some of them.
* **Targets**: `most_played` = the `size` most played tracks in `listening_events` over the
  `window_days` whole UTC days before the day the data interval ends in (a manual run at any
  hour: the days before today, so a second run that day finds the same target; ties by track
  id); `track_list` = exactly `track_ids`. Each track appears once.
* **Sync**: reads the live playlist, computes the diff, and writes it with the cheaper of two
  plans (at most 100 items per call): *edit* (remove by position guarded by `snapshot_id`, move
  blocks, insert the missing runs; kept tracks keep their added date) or *replace*. A write whose
  outcome is unknown (5xx, timeout, damaged answer) is never repeated blindly: the playlist is
  read again and the rest planned from what is there. An equal playlist gets **zero** writes.
* **Bad input**: target tracks Spotify does not know are quarantined and left out; malformed
  playlist ids in the conf are refused before the run starts; a playlist that is not managed in
  `playlist_ids` fails the run with its id.
* **Record**: one `playlist_syncs` row per playlist and run (status `applied` or `unchanged`,
  tracks added and removed, moves, write calls, snapshot ids before and after); a `planned` row
  is written before the first write so a crash midway still says what was being changed.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.spotify.confs import PlaylistUpdateConf
from spotify_agent_airflow.assets import PLAYLIST_SYNCS
from spotify_agent_airflow.defaults import SPOTIFY_POOL, dag_args
from spotify_agent_airflow.operators.common import SummariseOperator
from spotify_agent_airflow.operators.playlist_update import (
    PlanPlaylistsOperator,
    SyncPlaylistOperator,
)


@dag(
    schedule="@daily",
    **dag_args(
        PlaylistUpdateConf, deadline=timedelta(hours=2), execution_timeout=timedelta(minutes=20)
    ),
    tags=["spotify"],
    doc_md=__doc__,
)
def playlist_update() -> None:
    playlists = PlanPlaylistsOperator(task_id="plan_playlists")
    syncs = SyncPlaylistOperator.partial(task_id="sync_playlist", pool=SPOTIFY_POOL).expand(
        playlist=playlists.output
    )
    SummariseOperator(task_id="summarise", results=syncs.output, outlets=[PLAYLIST_SYNCS])


playlist_update()
