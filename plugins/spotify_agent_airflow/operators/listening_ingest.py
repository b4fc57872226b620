"""Tasks of ``listening_ingest``: each user's recently-played, each landed file, then a summary.
The jobs are :func:`spotify_agent.spotify.listening_ingest.list_landing_files`,
:func:`~spotify_agent.spotify.listening_ingest.ingest_recently_played` and
:func:`~spotify_agent.spotify.listening_ingest.ingest_event_file`; the erasure guards they need
are :class:`spotify_agent.maintenance.erasure.IngestGuard` under the deployment's keys."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.spotify.confs import ListeningIngestConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


def plan_users(context: Any) -> list[str]:
    conf = read_conf(context, ListeningIngestConf)
    return conf.spotify_conn_ids if "recently_played" in conf.sources else []


def catalogue_lookup(conn_id: str) -> Callable[[], Any]:
    """Builds the lookup of unknown tracks through ``conn_id``'s app client (client credentials)
    and tier when the job asks for it."""

    def build() -> Any:
        from spotify_agent.spotify import listening_ingest as job
        from spotify_agent_airflow.hooks.spotify import SpotifyHook

        spotify = SpotifyHook(conn_id)
        return job.TrackLookup(spotify.client, spotify.tier, conn_id, spotify.stats)

    return build


class PlanUsersOperator(BaseOperator):
    """The Spotify connections (one user each) to read recently-played for in this run."""

    def execute(self, context: Any) -> list[str]:
        return plan_users(context)


class ListLandingFilesOperator(WarehouseOperator):
    """Keys of the event files waiting under ``landing/listening/``."""

    def execute(self, context: Any) -> list[str]:
        from spotify_agent.spotify import listening_ingest as job
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, ListeningIngestConf)
        if "landing_files" not in conf.sources:
            return []  # neither the object store nor the warehouse is asked
        engine = self.warehouse_engine()
        listed = job.list_landing_files(engine, object_store_root())
        log.info("%s", listed.summary_line())
        return listed.keys


class RecentlyPlayedOperator(WarehouseOperator):
    """Reads one connected user's plays since their cursor and moves the cursor with them."""

    template_fields = ("spotify_conn_id",)

    def __init__(self, *, spotify_conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spotify_conn_id = spotify_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.maintenance.erasure import IngestGuard
        from spotify_agent.spotify import listening_ingest as job
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.object_store import object_store_root

        read_conf(context, ListeningIngestConf)
        spotify = SpotifyHook(self.spotify_conn_id)
        engine = self.warehouse_engine()
        guard = IngestGuard(erasure_keyring())
        ingested = job.ingest_recently_played(
            engine,
            spotify.user_client,
            attempt_of(context),
            spotify_conn_id=self.spotify_conn_id,
            guard=guard,
            objects=object_store_root(),
            calls=spotify.stats,
            # The user's own client looks up what came without an artist (its calls counted).
            tracks=lambda: job.TrackLookup(
                spotify.user_client, spotify.tier, self.spotify_conn_id, spotify.stats
            ),
        )
        log.info("%s", ingested.summary_line())
        return ingested.as_dict()


class IngestEventFileOperator(WarehouseOperator):
    """Reads one landed file of events; a file already read (same key and SHA-256) is skipped,
    and one that is a link or lies outside the landing folder is quarantined unread."""

    template_fields = ("object_key",)

    def __init__(self, *, object_key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.object_key = object_key

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.maintenance.erasure import IngestGuard
        from spotify_agent.spotify import listening_ingest as job
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, ListeningIngestConf)
        ingested = job.ingest_event_file(
            self.warehouse_engine(),
            object_store_root(),
            self.object_key,
            attempt_of(context),
            # Only a file with rows to store needs the keys (a skipped one logs no key warning).
            guard=lambda: IngestGuard(erasure_keyring()),
            # Only a file naming tracks the catalogue lacks reads the Spotify connection.
            tracks=catalogue_lookup(conf.catalogue_conn_id) if conf.look_up_tracks else None,
        )
        log.info("%s", ingested.summary_line())
        return ingested.as_dict()
