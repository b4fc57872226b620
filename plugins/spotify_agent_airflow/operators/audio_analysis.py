"""Tasks of ``audio_analysis``: find the audio without current features, analyse it in batches."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.ml.confs import AudioAnalysisConf
from spotify_agent_airflow.conf import read_conf

log = logging.getLogger(__name__)


class PlanAudioBatchesOperator(BaseOperator):
    """Lists ``audio/`` in the object store and returns the batches of objects to analyse: one
    file per track (lossless first) among those not already quarantined by the current
    extractor version, without features of that version from that same file, each with the
    track's other files as fallbacks; at most ``max_tracks``."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> list[list[dict[str, Any]]]:
        from spotify_agent.ml.audio.features import extractor_version
        from spotify_agent.ml.audio.store import AUDIO_PREFIX, audio_objects, batches, plan
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, AudioAnalysisConf)
        root = object_store_root()
        folder = root / AUDIO_PREFIX
        listing = folder.fs.find(folder.path, detail=True) if folder.exists() else {}
        version = extractor_version()
        with WarehouseHook(self.warehouse_conn_id).get_engine().connect() as connection:
            todo, shadowed = plan(
                connection,
                audio_objects(listing, root.path),
                version,
                only=conf.track_ids,
                reanalyse=conf.reanalyse,
            )
        if shadowed:
            log.info(
                "%d files shadowed by another format of the same track, e.g. %s",
                len(shadowed),
                shadowed[0].key,
            )
        later = todo[conf.max_tracks :]
        todo = todo[: conf.max_tracks]
        log.info(
            "%s: %d audio objects, %d to analyse now, %d left for the next run",
            version,
            len(listing),
            len(todo),
            len(later),
        )
        planned = batches(todo, conf.batch_size)
        if planned and len(planned[0]) > conf.batch_size:
            log.info(
                "batches of %d, not %d: Airflow maps at most 1024", len(planned[0]), conf.batch_size
            )
        return [[obj.as_dict() for obj in batch] for batch in planned]


class AnalyseAudioBatchOperator(BaseOperator):
    """Analyses one batch on one thread and writes its features, its quarantined files and its
    audit row in one transaction. A file that cannot be described is quarantined with the
    reason, the features made from what its key held before are withdrawn, and the track's
    next file (a fallback) is tried; the batch's other files are written. A file gone since
    planning is counted; one that cannot be read (permissions, the store failing) fails the
    task after the rest is written, so the retry tries it again."""

    template_fields = ("objects",)

    def __init__(
        self,
        *,
        objects: list[dict[str, Any]],
        warehouse_conn_id: str = "warehouse_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.objects = objects
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        # Imported here, not per file: a worker without them fails the task instead of
        # quarantining every file as if the audio were bad.
        import librosa  # noqa: F401
        import soxr  # noqa: F401
        from threadpoolctl import threadpool_limits

        from spotify_agent.core.quarantine import quarantine_items
        from spotify_agent.ml.audio.batch import analyse_batch
        from spotify_agent.ml.audio.features import extractor_version
        from spotify_agent.ml.audio.store import AudioObject, record_features, withdraw_features
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        version = extractor_version()
        root = object_store_root()
        ref = run_ref(context)
        now = datetime.now(UTC)
        began = time.perf_counter()
        # One thread, as the benchmark measures: a second BLAS thread only slows librosa here,
        # and the mapped batches are the parallelism.
        with threadpool_limits(limits=1):
            result = analyse_batch(
                [AudioObject.from_dict(item) for item in self.objects],
                lambda key: (root / key).read_bytes(),
                version=version,
                run=ref,
                at=now,
            )
        seconds = time.perf_counter() - began
        counts = {
            "tracks": len(self.objects),
            "rows_written": len(result.rows),
            "audio_seconds": round(result.audio_seconds),
            "quarantined": len(result.quarantined),
            "features_withdrawn": 0,
            "vanished": result.vanished,
            "unreadable": len(result.unreadable),
            **{f"quarantined_{reason}": n for reason, n in sorted(result.reasons.items())},
        }
        keys = [item["key"] for item in self.objects]
        with WarehouseHook(self.warehouse_conn_id).get_engine().begin() as connection:
            # Withdrawn first: a fallback's row for the same track replaces what was withdrawn.
            counts["features_withdrawn"] = withdraw_features(connection, result.rejected)
            record_features(connection, result.rows)
            quarantine_items(connection, result.quarantined, run=ref, at=now)
            audit_action(
                connection,
                context,
                "audio_features_extracted",
                counts=counts,
                entity_type="audio_batch",
                entity_key=_batch_key(keys),
                detail=version,
            )
        log.info(
            "%s: %s; %.0f s of audio in %.1f s (%.0fx real time)",
            version,
            counts,
            result.audio_seconds,
            seconds,
            result.audio_seconds / seconds if seconds else 0.0,
        )
        if result.unreadable:
            raise UnreadableAudio(
                f"{len(result.unreadable)} objects could not be read (the rest is written): "
                + ", ".join(result.unreadable[:10])
            )
        return counts


class UnreadableAudio(OSError):
    """Objects of the batch could not be read this attempt; a retry reads them again."""


def _batch_key(keys: list[str]) -> str:
    """The batch in the audit log: its first key and how many follow (the column holds 250)."""
    if not keys:
        return ""
    more = f" +{len(keys) - 1}" if len(keys) > 1 else ""
    return keys[0][: 250 - len(more)] + more
