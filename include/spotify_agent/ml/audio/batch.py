"""One batch of audio analysed: each track's file, or its next file when that one is bad.

Plain data in and out: the objects to analyse, a function that reads an object's bytes, and the
rows, quarantine entries and counts that the task writes in one transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from spotify_agent.core.progress import Progress
from spotify_agent.core.quarantine import QuarantinedItem, RunRef
from spotify_agent.ml.audio.features import MAX_BYTES, AudioRejected, analyse, supported_suffixes
from spotify_agent.ml.audio.store import AudioObject, feature_row, rejected

log = logging.getLogger(__name__)

Outcome = Literal["analysed", "rejected", "vanished", "unreadable"]


@dataclass
class BatchResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)
    # The files quarantined: features made from what their keys held before are withdrawn.
    rejected: list[AudioObject] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)
    vanished: int = 0
    audio_seconds: float = 0.0


def analyse_batch(
    objects: Iterable[AudioObject],
    read: Callable[[str], bytes],
    *,
    version: str,
    run: RunRef,
    at: datetime,
    progress: Progress | None = None,
) -> BatchResult:
    """Analyse each object; when one is rejected or gone, its track's fallbacks in order, so a
    bad file never hides a good one of the same track. An object that cannot be read (not
    gone: permissions, the store failing) stops its track and is listed for a retry.
    ``progress`` advances by one per planned object (with its fallbacks)."""
    result = BatchResult()
    suffixes = supported_suffixes()
    for chosen in objects:
        for candidate in (chosen, *chosen.fallbacks):
            if _attempt(candidate, read, result, suffixes, version, run, at) in (
                "analysed",
                "unreadable",
            ):
                break
        if progress is not None:
            progress.advance()
    return result


def _attempt(
    obj: AudioObject,
    read: Callable[[str], bytes],
    result: BatchResult,
    suffixes: frozenset[str],
    version: str,
    run: RunRef,
    at: datetime,
) -> Outcome:
    def refuse(reason: str, detail: str) -> Outcome:
        result.quarantined.append(rejected(obj, version, reason, detail))
        result.rejected.append(obj)
        result.reasons[reason] += 1
        log.warning("%s quarantined: %s: %s", obj.key, reason, detail)
        return "rejected"

    if obj.track_id is None:
        return refuse("not_a_track_id", "the file name is not a 22-character track id")
    if obj.suffix not in suffixes:
        return refuse("unsupported_format", f"{obj.suffix or 'no suffix'} files")
    if obj.size > MAX_BYTES:
        return refuse("too_large", f"{obj.size:,} bytes is over {MAX_BYTES:,}")
    try:
        data = read(obj.key)
    except FileNotFoundError:
        result.vanished += 1
        log.warning("%s was deleted after planning; left out", obj.key)
        return "vanished"
    except OSError as error:
        result.unreadable.append(obj.key)
        log.error("%s cannot be read: %r", obj.key, error)
        return "unreadable"
    try:
        decoded, features = analyse(data, obj.suffix)
    except AudioRejected as rejection:
        return refuse(rejection.reason, rejection.detail)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - one strange file must not sink the batch
        log.exception("analysing %s failed", obj.key)
        return refuse("analysis_failed", repr(error)[:500])
    result.audio_seconds += features.analysed_seconds
    result.rows.append(
        feature_row(
            obj,
            data,
            features.as_dict(),
            version=version,
            source_sample_rate=decoded.source_sample_rate,
            channels=decoded.channels,
            run=run,
            at=at,
        )
    )
    return "analysed"
