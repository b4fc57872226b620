"""Tasks of ``artist_monitoring``: plan the batches, snapshot each batch, summarise the run.
The jobs are :func:`spotify_agent.spotify.artist_monitoring.plan_artist_batches` and
:func:`~spotify_agent.spotify.artist_monitoring.snapshot_artist_batch`."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class PlanArtistBatchesOperator(WarehouseOperator):
    """Adds the run's ``add_artist_ids`` to the watch list; returns the batches to snapshot."""

    def execute(self, context: Any) -> list[list[str]]:
        from spotify_agent.spotify.artist_monitoring import plan_artist_batches
        from spotify_agent_airflow.audit import attempt_of

        conf = read_conf(context, ArtistMonitoringConf)
        engine = self.warehouse_engine()
        planned = plan_artist_batches(engine, conf, attempt_of(context))
        log.info("%s", planned.summary_line())
        return planned.batches


class ArtistSnapshotOperator(WarehouseOperator):
    """Snapshots one batch of artists and records the changes since each one's last snapshot."""

    template_fields = ("artist_ids",)

    def __init__(
        self,
        *,
        artist_ids: list[str],
        spotify_conn_id: str = "spotify_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.artist_ids = artist_ids
        self.spotify_conn_id = spotify_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.spotify.artist_monitoring import snapshot_artist_batch
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.spotify import SpotifyHook

        conf = read_conf(context, ArtistMonitoringConf)
        spotify = SpotifyHook(self.spotify_conn_id)
        snapshot = snapshot_artist_batch(
            self.warehouse_engine(),
            spotify.client,
            self.artist_ids,
            conf,
            attempt_of(context),
            tier=spotify.tier,
            day=interval_end(context).date(),
            spotify_conn_id=self.spotify_conn_id,
            calls=spotify.stats,
        )
        log.info("%s", snapshot.summary_line())
        if snapshot.incomplete:
            # The rest is stored; a retry (standard backoff) snapshots these, idempotently.
            raise IncompleteBatch(snapshot.incomplete_line())
        return snapshot.counts


class IncompleteBatch(RuntimeError):
    """Some artists of the batch could not be snapshotted this attempt."""
