"""Tasks of ``listening_ingest``: each user's recently-played, each landed file, then a summary."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.spotify.confs import ListeningIngestConf
from spotify_agent.spotify.landing import LANDING_PREFIX, is_event_file, refusal
from spotify_agent_airflow.conf import read_conf

log = logging.getLogger(__name__)

# One mapped task per file: stay well under Airflow's max_map_length (1024); the rest waits an hour.
MAX_FILES_PER_RUN = 500


def plan_users(context: Any) -> list[str]:
    conf = read_conf(context, ListeningIngestConf)
    return conf.spotify_conn_ids if "recently_played" in conf.sources else []


def list_landing_files(context: Any, *, warehouse_conn_id: str = "warehouse_default") -> list[str]:
    """Keys of event files under ``landing/listening/`` not read yet, oldest name first.

    A file already recorded with the same size is left out without being downloaded; the
    ingest task still compares SHA-256, so a same-size rewrite is caught when it is listed.
    A key the ingest must refuse (a link, a path outside the folder) is listed without being
    looked at, so its mapped task records the refusal.
    """
    from spotify_agent.core.objects import relative_key
    from spotify_agent.spotify.listening_store import already_refused, ingested_sizes
    from spotify_agent_airflow.hooks.warehouse import WarehouseHook
    from spotify_agent_airflow.object_store import object_store_root

    conf = read_conf(context, ListeningIngestConf)
    if "landing_files" not in conf.sources:
        return []
    root = object_store_root()
    landing = root / LANDING_PREFIX
    if not landing.exists():
        return []
    found: dict[str, int] = {}
    refused: list[str] = []
    for path in landing.rglob("*"):
        if not is_event_file(path.name):
            continue
        key = f"{LANDING_PREFIX}/{relative_key(path, landing)}"
        if refusal(root, key) is not None:
            refused.append(key)  # not even stat'ed: a link's target is none of our business
        elif path.is_file():
            found[key] = path.stat().st_size
    with WarehouseHook(warehouse_conn_id).get_engine().connect() as connection:
        seen = ingested_sizes(connection, list(found))
        refused = sorted(set(refused) - already_refused(connection, refused))
    waiting = sorted(
        [*refused, *(key for key, size in found.items() if size not in seen.get(key, set()))]
    )
    if len(waiting) > MAX_FILES_PER_RUN:
        log.warning(
            "%d files waiting; this run reads the first %d", len(waiting), MAX_FILES_PER_RUN
        )
    return waiting[:MAX_FILES_PER_RUN]


class PlanUsersOperator(BaseOperator):
    """The Spotify connections (one user each) to read recently-played for in this run."""

    def execute(self, context: Any) -> list[str]:
        return plan_users(context)


class ListLandingFilesOperator(BaseOperator):
    """Keys of the event files waiting under ``landing/listening/``."""

    def execute(self, context: Any) -> list[str]:
        return list_landing_files(context)


class RecentlyPlayedOperator(BaseOperator):
    """Reads one connected user's plays since their cursor and moves the cursor with them."""

    template_fields = ("spotify_conn_id",)

    def __init__(
        self, *, spotify_conn_id: str, warehouse_conn_id: str = "warehouse_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.spotify_conn_id = spotify_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.core.audit import pseudonymise
        from spotify_agent.core.quarantine import quarantine_items
        from spotify_agent.maintenance.erasure import erased_among
        from spotify_agent.spotify.errors import orchestration_errors
        from spotify_agent.spotify.listening import recently_played
        from spotify_agent.spotify.listening_store import (
            cursor_of,
            move_cursor,
            write_catalogue,
            write_events,
        )
        from spotify_agent.spotify.resilience import Resilient
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        read_conf(context, ListeningIngestConf)
        spotify = SpotifyHook(self.spotify_conn_id)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        now = datetime.now(UTC)
        key = erasure_keyring()
        with orchestration_errors(self.spotify_conn_id):
            client = Resilient(spotify.user_client)
            user_id = str(client.current_user()["id"])
            with engine.connect() as connection:
                if erased_among(connection, [user_id], key=key):
                    # Not even a cursor: the row would hold the id again.
                    log.warning(
                        "%s belongs to an erased user: nothing read; remove the connection",
                        self.spotify_conn_id,
                    )
                    return {"rows_written": 0, "erased_user": 1}
                after_ms = cursor_of(connection, user_id)
            batch, cursor = recently_played(client, user_id=user_id, after_ms=after_ms, now=now)

        ref = run_ref(context)
        with engine.begin() as connection:
            # Again in the write's transaction: an erasure may have started during the read.
            if erased_among(connection, [user_id], key=key):
                log.warning("%s: the user's erasure began during the read", self.spotify_conn_id)
                return {"rows_written": 0, "erased_user": 1}
            new, duplicates = write_events(
                connection,
                batch.events,
                source=f"recently_played:{self.spotify_conn_id}",
                run_id=ref.run_id,
                at=now,
            )
            tracks = write_catalogue(connection, list(batch.tracks.values()), at=now)
            if cursor is not None:
                move_cursor(
                    connection, user_id, cursor, spotify_conn_id=self.spotify_conn_id, at=now
                )
            quarantined = quarantine_items(
                connection,
                [*batch.quarantined, *client.quarantined],
                run=ref,
                at=now,
                objects=object_store_root(),
            )
            counts = {
                "rows_written": new,
                "duplicates": duplicates,
                "quarantined": quarantined,
                "catalogue_tracks": tracks,
                **spotify.stats.summary(),
            }
            audit_action(
                connection,
                context,
                "listening_ingested",
                counts=counts,
                entity_type="user",
                entity_key=pseudonymise(user_id, namespace="user"),
            )
        log.info("recently played via %s: %s", self.spotify_conn_id, counts)
        return counts


def _rewrite_without(path: Any, data: bytes, user_ids: set[str]) -> bytes:
    from spotify_agent.maintenance.personal_data import without_user

    for user_id in sorted(user_ids):
        data, _ = without_user(data, key=str(path), user_id=user_id)
    if data:
        path.write_bytes(data)
    else:
        path.unlink()
    return data


class IngestEventFileOperator(BaseOperator):
    """Reads one landed file of events; a file already read (same key and SHA-256) is skipped,
    and one that is a link or lies outside the landing folder is quarantined unread."""

    template_fields = ("object_key",)

    def __init__(
        self, *, object_key: str, warehouse_conn_id: str = "warehouse_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.object_key = object_key
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.core.quarantine import quarantine_items
        from spotify_agent.maintenance.erasure import without_erased
        from spotify_agent.spotify.listening import read_event_file, sha256_of
        from spotify_agent.spotify.listening_store import (
            already_ingested,
            record_file,
            write_events,
        )
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        root = object_store_root()
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        refused = refusal(root, self.object_key)
        if refused is not None:
            return self._refuse(context, engine, refused)
        path = root / self.object_key
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # Listed, then deleted: by a person, or by an erasure that left it empty.
            log.warning("%s is gone: nothing to read", self.object_key)
            return {"rows_written": 0, "skipped_files": 1}
        digest = sha256_of(data)
        with engine.connect() as connection:
            if already_ingested(connection, self.object_key, digest):
                log.info(
                    "%s (sha256 %s) was ingested before: skipped", self.object_key, digest[:12]
                )
                return {"rows_written": 0, "skipped_files": 1}

        now = datetime.now(UTC)
        batch = read_event_file(data, key=self.object_key, now=now)
        ref = run_ref(context)
        key = erasure_keyring()
        with engine.begin() as connection:
            events, bad, erased = without_erased(
                connection, batch.events, batch.quarantined, key=key
            )
            dropped = len(batch.events) + len(batch.quarantined) - len(events) - len(bad)
            if erased:
                # The file must not keep them either: the object store is a registered store.
                data = _rewrite_without(path, data, erased)
                digest = sha256_of(data)
                log.warning("%s: %d rows of erased users dropped", self.object_key, dropped)
            new, duplicates = write_events(
                connection, events, source=self.object_key, run_id=ref.run_id, at=now
            )
            quarantined = quarantine_items(connection, bad, run=ref, at=now, objects=root)
            record_file(
                connection,
                {
                    "object_key": self.object_key,
                    "sha256": digest,
                    "size_bytes": len(data),
                    "events": new,
                    "duplicates": duplicates,
                    "quarantined": quarantined,
                    "run_id": ref.run_id,
                    "ingested_at": now,
                },
            )
            counts = {
                "rows_written": new,
                "duplicates": duplicates,
                "quarantined": quarantined,
                "erased_user_rows_dropped": dropped,
            }
            audit_action(
                connection,
                context,
                "listening_file_ingested",
                counts=counts,
                entity_type="object",
                entity_key=self.object_key[-250:],
            )
        log.info("%s: %s", self.object_key, counts)
        return counts

    def _refuse(self, context: Any, engine: Any, reason: str) -> dict[str, int]:
        """Quarantine a reference to the refused key (nothing of it is read) and count it."""
        from spotify_agent.core.quarantine import quarantine_items
        from spotify_agent.spotify.listening_store import refused_file
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref

        log.warning("%s refused: %s", self.object_key, reason)
        item = refused_file(self.object_key, reason)
        with engine.begin() as connection:
            quarantined = quarantine_items(
                connection, [item], run=run_ref(context), at=datetime.now(UTC)
            )
            counts = {"rows_written": 0, "refused_files": 1, "quarantined": quarantined}
            audit_action(
                connection,
                context,
                "listening_file_refused",
                counts=counts,
                entity_type="object",
                entity_key=self.object_key[-250:],
            )
        return counts
