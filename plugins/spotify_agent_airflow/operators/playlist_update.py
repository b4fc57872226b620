"""Tasks of ``playlist_update``: choose the playlists, sync each one, summarise the run.
The jobs are :func:`spotify_agent.spotify.playlist_update.plan_playlists` and
:func:`~spotify_agent.spotify.playlist_update.sync_managed_playlist`."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.spotify.confs import PlaylistUpdateConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end

log = logging.getLogger(__name__)


class PlanPlaylistsOperator(BaseOperator):
    """Applies the run's ``manage`` / ``unmanage_playlist_ids``; returns the playlists to sync."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from spotify_agent.spotify.playlist_update import plan_playlists
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, PlaylistUpdateConf)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        planned = plan_playlists(engine, conf, attempt_of(context))
        if planned.refused is not None:
            raise AirflowFailException(planned.refused)
        log.info("%s", planned.summary_line())
        return planned.playlists


class SyncPlaylistOperator(BaseOperator):
    """Makes one managed playlist equal to its target and records what changed."""

    template_fields = ("playlist",)

    def __init__(
        self,
        *,
        playlist: dict[str, Any],
        warehouse_conn_id: str = "warehouse_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.playlist = playlist
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowFailException

        from spotify_agent.spotify.playlist_update import sync_managed_playlist
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        spotify = SpotifyHook(self.playlist["spotify_conn_id"])
        synced = sync_managed_playlist(
            WarehouseHook(self.warehouse_conn_id).get_engine(),
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
