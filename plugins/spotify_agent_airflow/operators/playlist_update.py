"""Tasks of ``playlist_update``: choose the playlists, sync each one, summarise the run.
The jobs are :func:`spotify_agent.spotify.playlist_update.plan_playlists` and
:func:`~spotify_agent.spotify.playlist_update.sync_managed_playlist`."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.spotify.confs import PlaylistUpdateConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class PlanPlaylistsOperator(WarehouseOperator):
    """Applies the run's ``manage`` / ``unmanage_playlist_ids``; returns the playlists to sync."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from spotify_agent.spotify.playlist_update import plan_playlists
        from spotify_agent_airflow.audit import attempt_of

        conf = read_conf(context, PlaylistUpdateConf)
        engine = self.warehouse_engine()
        planned = plan_playlists(engine, conf, attempt_of(context))
        if planned.refused is not None:
            raise AirflowFailException(planned.refused)
        log.info("%s", planned.summary_line())
        return planned.playlists


class SyncPlaylistOperator(WarehouseOperator):
    """Makes one managed playlist equal to its target and records what changed."""

    template_fields = ("playlist",)

    def __init__(
        self,
        *,
        playlist: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.playlist = playlist

    def execute(self, context: Any) -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from spotify_agent.spotify.playlist_update import sync_managed_playlist
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.spotify import SpotifyHook

        spotify = SpotifyHook(self.playlist["spotify_conn_id"])
        synced = sync_managed_playlist(
            self.warehouse_engine(),
            spotify.user_client,
            self.playlist,
            attempt_of(context),
            tier=spotify.tier,
            end=interval_end(context),
            calls=spotify.stats,
        )
        if synced.refused is not None:
            # No retry: the data will not change within minutes; the failure is the alert.
            raise AirflowFailException(synced.refused)
        log.info("%s", synced.summary_line())
        return synced.counts
