"""Tasks of ``artist_monitoring``: plan the batches, snapshot each batch, summarise the run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.spotify.confs import ArtistMonitoringConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end

log = logging.getLogger(__name__)

# 50 artists = one several-ids call on the extended tier; a mapped task per batch fails alone.
BATCH_SIZE = 50


def plan_batches(context: Any, *, warehouse_conn_id: str = "warehouse_default") -> list[list[str]]:
    """Add the run's ``add_artist_ids`` to the watch list and split it into batches."""
    from spotify_agent.spotify.monitoring import batches
    from spotify_agent.spotify.monitoring_store import watch, watched_ids
    from spotify_agent_airflow.audit import audit_action
    from spotify_agent_airflow.hooks.warehouse import WarehouseHook

    conf = read_conf(context, ArtistMonitoringConf)
    with WarehouseHook(warehouse_conn_id).get_engine().begin() as connection:
        if conf.add_artist_ids:
            watch(
                connection, conf.add_artist_ids, run_id=context["ti"].run_id, at=datetime.now(UTC)
            )
            audit_action(
                connection, context, "artists_watched", counts={"artists": len(conf.add_artist_ids)}
            )
        ids = watched_ids(connection)
    planned = batches(ids, BATCH_SIZE)
    log.info("%d watched artists in %d batches", len(ids), len(planned))
    return planned


class PlanArtistBatchesOperator(BaseOperator):
    """Adds the run's ``add_artist_ids`` to the watch list; returns the batches to snapshot."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> list[list[str]]:
        return plan_batches(context, warehouse_conn_id=self.warehouse_conn_id)


class ArtistSnapshotOperator(BaseOperator):
    """Snapshots one batch of artists and records the changes since each one's last snapshot."""

    template_fields = ("artist_ids",)

    def __init__(
        self,
        *,
        artist_ids: list[str],
        spotify_conn_id: str = "spotify_default",
        warehouse_conn_id: str = "warehouse_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.artist_ids = artist_ids
        self.spotify_conn_id = spotify_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.core.quarantine import quarantine_items
        from spotify_agent.spotify.errors import orchestration_errors
        from spotify_agent.spotify.monitoring import snapshot_artists
        from spotify_agent.spotify.monitoring_store import record_batch
        from spotify_agent.spotify.resilience import Resilient
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, ArtistMonitoringConf)
        day = interval_end(context).date()
        spotify = SpotifyHook(self.spotify_conn_id)
        client = Resilient(spotify.client)
        with orchestration_errors(self.spotify_conn_id):
            batch = snapshot_artists(client, self.artist_ids, tier=spotify.tier, on=day)

        ref = run_ref(context)
        now = datetime.now(UTC)
        with WarehouseHook(self.warehouse_conn_id).get_engine().begin() as connection:
            written, events = record_batch(
                connection,
                batch,
                day=day,
                follower_jump_pct=conf.follower_jump_pct,
                popularity_jump=conf.popularity_jump,
                run_id=ref.run_id,
                trace_id=ref.trace_id,
                at=now,
            )
            quarantined = quarantine_items(
                connection, [*batch.quarantined, *client.quarantined], run=ref, at=now
            )
            counts = {
                "rows_written": written + events,
                "snapshots": written,
                "events": events,
                "quarantined": quarantined,
                "releases": sum(len(r) for r in batch.releases.values()),
                **spotify.stats.summary(),
            }
            audit_action(
                connection,
                context,
                "artist_snapshots_written",
                counts=counts,
                entity_type="artist_batch",
                entity_key=f"{self.artist_ids[0]}..{self.artist_ids[-1]}"
                if self.artist_ids
                else "",
            )
        log.info("batch of %d artists: %s", len(self.artist_ids), counts)
        if batch.incomplete:
            # The rest is stored; a retry (standard backoff) snapshots these, idempotently.
            raise IncompleteBatch(
                f"{len(batch.incomplete)} artists had no complete release listing: "
                + ", ".join(batch.incomplete[:10])
            )
        return counts


class IncompleteBatch(RuntimeError):
    """Some artists of the batch could not be snapshotted this attempt."""
