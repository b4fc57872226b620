"""Tasks of ``audio_analysis``: find the audio without current features, analyse it in batches.
The job is :func:`spotify_agent.ml.audio.analysis.plan_audio_batches`, then
:func:`spotify_agent.ml.audio.analysis.analyse_audio_batch` per mapped batch."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.ml.confs import AudioAnalysisConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.common import WarehouseOperator, progress_every_s

log = logging.getLogger(__name__)


class PlanAudioBatchesOperator(WarehouseOperator):
    """Lists ``audio/`` in the object store and returns the batches of objects to analyse: one
    file per track (lossless first) among those not already quarantined by the current
    extractor version, without features of that version from that same file, each with the
    track's other files as fallbacks; at most ``max_tracks``."""

    def execute(self, context: Any) -> list[list[dict[str, Any]]]:
        from spotify_agent.ml.audio.analysis import plan_audio_batches
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, AudioAnalysisConf)
        engine = self.warehouse_engine()
        planned = plan_audio_batches(engine, object_store_root(), conf)
        log.info("%s", planned.summary_line())
        return planned.as_result()


class AnalyseAudioBatchOperator(WarehouseOperator):
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.objects = objects

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.ml.audio.analysis import analyse_audio_batch
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.object_store import object_store_root

        engine = self.warehouse_engine()
        analysed = analyse_audio_batch(
            engine,
            object_store_root(),
            self.objects,
            attempt_of(context),
            every_s=progress_every_s(),
        )
        log.info("%s", analysed.summary_line())
        return analysed.counts
