"""Tasks of ``playlist_update``: choose the playlists, sync each one, summarise the run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.spotify.confs import PlaylistUpdateConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end

log = logging.getLogger(__name__)


# A most_played target that would drop more than half the playlist's tracks and is under half its
# configured size is not synced: it means missing listening data, not a change of taste.
MOST_PLAYED_MAX_SHRINK_PCT = 50.0


class PlanPlaylistsOperator(BaseOperator):
    """Applies the run's ``manage`` / ``unmanage_playlist_ids``; returns the playlists to sync."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from spotify_agent.spotify.playlist_store import UnknownPlaylists, manage, managed, unmanage
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, PlaylistUpdateConf)
        now = datetime.now(UTC)
        with WarehouseHook(self.warehouse_conn_id).get_engine().begin() as connection:
            if conf.manage:
                manage(connection, conf.manage, run_id=context["ti"].run_id, at=now)
                audit_action(
                    connection, context, "playlists_managed", counts={"playlists": len(conf.manage)}
                )
            if conf.unmanage_playlist_ids:
                count = unmanage(connection, conf.unmanage_playlist_ids, at=now)
                audit_action(
                    connection, context, "playlists_unmanaged", counts={"playlists": count}
                )
            try:
                playlists = managed(connection, conf.playlist_ids)
            except UnknownPlaylists as error:
                raise AirflowFailException(str(error)) from None
        log.info("%d managed playlists to sync", len(playlists))
        return [playlist.as_dict() for playlist in playlists]


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

        from spotify_agent.core.quarantine import QuarantinedItem, quarantine_items
        from spotify_agent.spotify.errors import orchestration_errors, write_outcome_unknown
        from spotify_agent.spotify.playlist_store import (
            ManagedPlaylist,
            record_plan,
            record_sync,
            target_track_ids,
        )
        from spotify_agent.spotify.playlists import (
            SyncRefused,
            SyncResult,
            UnmanageablePlaylist,
            known_track_ids,
            shrink_guard,
            sync_playlist,
            track_uri,
        )
        from spotify_agent.spotify.resilience import Resilient
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        playlist = ManagedPlaylist(
            **{**self.playlist, "track_ids": tuple(self.playlist.get("track_ids", ()))}
        )
        ref = run_ref(context)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            target = [
                track_uri(track_id)
                for track_id in target_track_ids(connection, playlist, end=interval_end(context))
            ]

        spotify = SpotifyHook(playlist.spotify_conn_id)
        client = Resilient(spotify.user_client)
        unknown: list[QuarantinedItem] = []

        def vet(uris: Sequence[str]) -> list[str]:
            ids = [uri.rsplit(":", 1)[-1] for uri in uris]
            _, rejected = known_track_ids(client, ids, tier=spotify.tier)
            unknown.extend(rejected)
            return [track_uri(item.payload["track_id"]) for item in rejected]

        def on_plan(result: SyncResult) -> None:
            with engine.begin() as connection:
                record_plan(
                    connection,
                    result,
                    target_size=len(target),
                    run_id=ref.run_id,
                    trace_id=ref.trace_id,
                    at=datetime.now(UTC),
                )

        damaged: list[QuarantinedItem] = []

        def keep_quarantined(connection: Any) -> int:
            """Every bad item this attempt saw, whatever the attempt's outcome."""
            items = [*unknown, *damaged, *client.quarantined]
            return quarantine_items(connection, items, run=ref, at=datetime.now(UTC))

        try:
            with orchestration_errors(playlist.spotify_conn_id):
                result = sync_playlist(
                    client,
                    playlist.playlist_id,
                    target,
                    is_uncertain=write_outcome_unknown,
                    vet=vet,
                    on_plan=on_plan,
                    damaged=damaged,
                    # A data-driven target that collapses means missing data, not a new taste.
                    guard=shrink_guard(
                        MOST_PLAYED_MAX_SHRINK_PCT if playlist.rule == "most_played" else None,
                        expected=playlist.size,
                    ),
                )
        except (SyncRefused, UnmanageablePlaylist) as refused:
            with engine.begin() as connection:
                keep_quarantined(connection)
                audit_action(
                    connection,
                    context,
                    "playlist_sync_refused",
                    outcome="refused",
                    counts={"target_tracks": len(target) - len(unknown)},
                    entity_type="playlist",
                    entity_key=playlist.playlist_id,
                    detail=str(refused),
                )
            # No retry: the data will not change within minutes; the failure is the alert.
            raise AirflowFailException(str(refused)) from None
        except Exception:
            # Keep what was damaged even when the attempt fails (Airflow retries it).
            with engine.begin() as connection:
                keep_quarantined(connection)
            raise

        now = datetime.now(UTC)
        with engine.begin() as connection:
            quarantined = keep_quarantined(connection)
            status = record_sync(
                connection,
                result,
                target_size=len(target) - len(unknown),
                quarantined=quarantined,
                run_id=ref.run_id,
                trace_id=ref.trace_id,
                at=now,
            )
            counts = {
                "rows_written": 1,  # the playlist_syncs row
                "playlists": 1,
                "playlists_changed": int(status == "applied"),
                "tracks_added": len(result.added),
                "tracks_removed": len(result.removed),
                "tracks_moved": result.moved,
                "write_calls": result.write_calls,
                "quarantined": quarantined,
                **spotify.stats.summary(),
            }
            audit_action(
                connection,
                context,
                "playlist_changed" if status == "applied" else "playlist_unchanged",
                counts=counts,
                entity_type="playlist",
                entity_key=playlist.playlist_id,
            )
        log.info(
            "playlist %s: %s (%s), %s",
            playlist.playlist_id,
            status,
            result.strategy,
            counts,
        )
        return counts
