"""Tasks of ``audio_analysis``: find the audio without current features, analyse it in batches.
The job is :func:`spotify_agent.ml.audio.analysis.plan_audio_batches`, then
:func:`spotify_agent.ml.audio.analysis.analyse_audio_batch` per mapped batch."""

from __future__ import annotations

import logging
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
        from spotify_agent.ml.audio.analysis import plan_audio_batches
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, AudioAnalysisConf)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        planned = plan_audio_batches(engine, object_store_root(), conf)
        log.info("%s", planned.summary_line())
        return planned.as_result()


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
        from spotify_agent.ml.audio.analysis import analyse_audio_batch
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        analysed = analyse_audio_batch(
            engine, object_store_root(), self.objects, attempt_of(context)
        )
        log.info("%s", analysed.summary_line())
        return analysed.counts
