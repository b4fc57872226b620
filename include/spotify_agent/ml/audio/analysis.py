"""The ``audio_analysis`` job: plan the batches of audio without current features, then analyse
one batch and write its features, its quarantined files and its audit row in one transaction.

Idempotent: features upsert on (track, extractor version) and a quarantined file is kept once,
so a retried batch writes the same rows and a re-run plans nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from spotify_agent.core.audit import Attempt, record_write
from spotify_agent.core.numbers import counted, format_number
from spotify_agent.core.progress import DEFAULT_EVERY_S, Progress, duration, round_significant
from spotify_agent.ml.audio.batch import BatchResult, analyse_batch
from spotify_agent.ml.audio.features import extractor_version, warm_up
from spotify_agent.ml.audio.store import (
    AUDIO_PREFIX,
    AudioObject,
    audio_objects,
    batches,
    plan,
    record_features,
    withdraw_features,
)
from spotify_agent.ml.confs import AudioAnalysisConf

log = logging.getLogger(__name__)

# The audit log's entity_key column holds this many characters.
ENTITY_KEY_LENGTH = 250


class UnreadableAudio(OSError):
    """Objects of the batch could not be read this attempt; a retry reads them again."""


@dataclass(frozen=True)
class AudioPlan:
    """The batches a run analyses now, and what it leaves out."""

    version: str
    listed: int  # objects under audio/
    batches: tuple[tuple[AudioObject, ...], ...]
    shadowed: tuple[AudioObject, ...]  # another format of the same track is analysed instead
    later: int  # pending past max_tracks: the next run's
    batch_size: int  # asked for; batches grow past it when there would be too many to map

    def as_result(self) -> list[list[dict[str, Any]]]:
        """The batches as the mapped task reads them (each object with its fallbacks)."""
        return [[obj.as_dict() for obj in batch] for batch in self.batches]

    def summary_line(self) -> str:
        now = sum(len(batch) for batch in self.batches)
        said = (
            f"{self.version}: {self.listed} audio objects, {now} to analyse now, "
            f"{self.later} left for the next run"
        )
        if self.shadowed:
            said += (
                f"; {len(self.shadowed)} files shadowed by another format of the same track, "
                f"e.g. {self.shadowed[0].key}"
            )
        if self.batches and len(self.batches[0]) > self.batch_size:
            said += f"; batches of {len(self.batches[0])}, not {self.batch_size}: Airflow maps"
            said += " at most 1024"
        return said


@dataclass(frozen=True)
class AnalysedBatch:
    """What one batch's analysis wrote, and how fast it went."""

    version: str
    counts: dict[str, int]  # as audited, and the task's return value
    audio_seconds: float  # of audio analysed (each file's first ten minutes at most)
    seconds: float  # wall time reading and analysing it, librosa's first use left out
    first_use_seconds: float = 0.0  # librosa's imports and numba's compiling, once a process

    @property
    def real_time_factor(self) -> float | None:
        """Seconds of audio analysed per second of wall time; None when none was analysed."""
        if self.audio_seconds <= 0 or self.seconds <= 0:
            return None
        return self.audio_seconds / self.seconds

    def summary_line(self) -> str:
        """``af1+librosa0.11.0: analysed 3 files: 1 feature rows written, 2 quarantined (1
        undecodable, 1 not a track id); 6 s of audio in 0.0342 s, 175x real time``."""
        counts = self.counts
        reasons = counted(
            [(n, key.removeprefix("quarantined_").replace("_", " "))
             for key, n in counts.items() if key.startswith("quarantined_")],
            always=0,
        )  # fmt: skip
        said = counted(
            [(counts["rows_written"], "feature rows written"),
             (counts["quarantined"], f"quarantined ({reasons})" if reasons else "quarantined"),
             (counts["features_withdrawn"], "earlier rows withdrawn"),
             (counts["vanished"], "gone since planning"),
             (counts["unreadable"], "unreadable")]
        )  # fmt: skip
        tracks = format_number(counts["tracks"])
        return f"{self.version}: analysed {tracks} files: {said}; {self.speed()}"

    def speed(self) -> str:
        """``90 s of audio in 0.391 s, 230x real time``: the factor this batch measured."""
        factor = self.real_time_factor
        took = f"{self.seconds:.3g} s" if self.seconds < 60 else duration(self.seconds)
        said = f"{format_number(round(self.audio_seconds))} s of audio in {took}"
        if factor is not None:
            said += f", {format_number(round_significant(factor, 3))}x real time"
        if self.first_use_seconds >= 0.1:
            said += f" (librosa's first use took {self.first_use_seconds:.2g} s more, left out)"
        return said


def plan_audio_batches(
    engine: Engine, objects: Any, conf: AudioAnalysisConf, *, version: str | None = None
) -> AudioPlan:
    """List ``audio/`` under ``objects`` (the store's root) and batch the files to analyse: one
    per track, lossless first, with the track's other files as fallbacks; at most
    ``conf.max_tracks``."""
    version = version or extractor_version()
    folder = objects / AUDIO_PREFIX
    listing = folder.fs.find(folder.path, detail=True) if folder.exists() else {}
    with engine.connect() as connection:
        todo, shadowed = plan(
            connection,
            audio_objects(listing, objects.path),
            version,
            only=conf.track_ids,
            reanalyse=conf.reanalyse,
        )
    now = todo[: conf.max_tracks]
    return AudioPlan(
        version=version,
        listed=len(listing),
        batches=tuple(tuple(batch) for batch in batches(now, conf.batch_size)),
        shadowed=tuple(shadowed),
        later=len(todo) - len(now),
        batch_size=conf.batch_size,
    )


def analyse_audio_batch(
    engine: Engine,
    objects: Any,
    planned: Sequence[Mapping[str, Any]],
    attempt: Attempt,
    *,
    version: str | None = None,
    now: datetime | None = None,
    every_s: float = DEFAULT_EVERY_S,
) -> AnalysedBatch:
    """Analyse the ``planned`` batch (``AudioPlan.as_result`` items) read from ``objects`` and
    write it, logging how far it is every ``every_s`` seconds. Raises :class:`UnreadableAudio`
    after writing the rest when a file could not be read (not gone: permissions, the store
    failing), so a retry reads it again."""
    # Imported here, not per file: a worker without them fails the task instead of
    # quarantining every file as if the audio were bad.
    import librosa  # noqa: F401
    import soxr  # noqa: F401
    from threadpoolctl import threadpool_limits

    version = version or extractor_version()
    at = now or datetime.now(UTC)
    keys = [item["key"] for item in planned]
    # One thread, as the benchmark measures: a second BLAS thread only slows librosa here, and
    # the mapped batches are the parallelism.
    with threadpool_limits(limits=1):
        first_use = warm_up()  # before the clock: it is not the analysis's speed
        began = time.perf_counter()
        progress = Progress(
            f"analysing {batch_key(keys)}", len(keys), unit="files", every_s=every_s, logger=log
        )
        result = analyse_batch(
            [AudioObject.from_dict(item) for item in planned],
            lambda key: (objects / key).read_bytes(),
            version=version,
            run=attempt.run,
            at=at,
            progress=progress,
        )
        seconds = time.perf_counter() - began
    progress.finish()
    with engine.begin() as connection:
        counts = _write_batch(connection, keys, result, attempt, version=version, at=at)
    analysed = AnalysedBatch(version, counts, result.audio_seconds, seconds, first_use)
    if result.unreadable:
        log.warning("%s", analysed.summary_line())
        raise UnreadableAudio(
            f"{len(result.unreadable)} objects could not be read (the rest is written): "
            + ", ".join(result.unreadable[:10])
        )
    return analysed


def _write_batch(
    connection: Connection,
    keys: list[str],
    result: BatchResult,
    attempt: Attempt,
    *,
    version: str,
    at: datetime,
) -> dict[str, int]:
    # Withdrawn first: a fallback's row for the same track replaces what was withdrawn.
    withdrawn = withdraw_features(connection, result.rejected)
    record_features(connection, result.rows)
    counts = {
        "tracks": len(keys),
        "rows_written": len(result.rows),
        "audio_seconds": round(result.audio_seconds),
        "quarantined": 0,  # record_write adds what it sets aside
        "features_withdrawn": withdrawn,
        "vanished": result.vanished,
        "unreadable": len(result.unreadable),
        **{f"quarantined_{reason}": n for reason, n in sorted(result.reasons.items())},
    }
    return record_write(
        connection,
        attempt,
        "audio_features_extracted",
        counts=counts,
        quarantined=result.quarantined,
        entity_type="audio_batch",
        entity_key=batch_key(keys),
        detail=version,
        at=at,
    )


def batch_key(keys: Sequence[str]) -> str:
    """The batch in the audit log: its first key and how many follow (the column holds 250)."""
    if not keys:
        return ""
    more = f" +{len(keys) - 1}" if len(keys) > 1 else ""
    return keys[0][: ENTITY_KEY_LENGTH - len(more)] + more
