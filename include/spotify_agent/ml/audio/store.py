"""Which tracks' audio to analyse, and the rows that record what came out.

Audio lives in the object store under ``audio/``, one object per track named by its Spotify
id: ``audio/<track id>.<wav|flac|ogg|mp3>`` (sub-folders allowed). A track is pending when its
object has no ``track_audio_features`` row of the current extractor version made from the same
object (same size and ETag or modification time), and the same object has not been quarantined
by that version already: every run does not retry a file known to be bad, but a replaced file
is tried again (and a file whose analysis failed for a reason of ours, ``analysis_failed``, is
tried on every run).

A bad file never hides a good one of the same track: files known to be bad are left out before
one file per track is chosen, and the chosen file carries the track's other files as
``fallbacks``, tried in order in the same batch when it is rejected. Features made from a file
that is now rejected (it was replaced by a bad one) are withdrawn, not left as current.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Connection, delete, select

from spotify_agent.core.quarantine import QuarantinedItem, RunRef, payload_sha256
from spotify_agent.spotify.ids import SPOTIFY_ID_PATTERN
from spotify_agent.warehouse.schema import quarantine, track_audio_features
from spotify_agent.warehouse.upsert import upsert

AUDIO_PREFIX = "audio"
QUARANTINE_SOURCE = "audio_analysis"
# When one track has several files, the first of these is analysed (lossless first).
SUFFIX_PREFERENCE = (".flac", ".wav", ".ogg", ".oga", ".mp3")
_TRACK_ID = re.compile(SPOTIFY_ID_PATTERN)
# Reasons that depend on the worker or on our code, not on the file: tried again every run.
RETRIED_REASONS = ("analysis_failed",)
_IN_CHUNK = 500  # SQLite allows 999 bound parameters
# Airflow refuses to map more than [core] max_map_length (1024) items; batches grow to fit.
MAX_BATCHES = 1000


@dataclass(frozen=True)
class AudioObject:
    key: str  # relative to the store's root: audio/<track id>.<suffix>
    signature: str  # size and ETag or modification time: changes when the object is replaced
    track_id: str | None  # None when the file name is not a track id
    suffix: str
    size: int = 0
    # The track's other files, in order of preference: tried when this one is rejected.
    fallbacks: tuple[AudioObject, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "key": self.key,
            "signature": self.signature,
            "track_id": self.track_id,
            "suffix": self.suffix,
            "size": self.size,
        }
        if self.fallbacks:
            value["fallbacks"] = [fallback.as_dict() for fallback in self.fallbacks]
        return value

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> AudioObject:
        return cls(
            value["key"],
            value["signature"],
            value["track_id"],
            value["suffix"],
            int(value.get("size") or 0),
            tuple(cls.from_dict(item) for item in value.get("fallbacks") or ()),
        )


def audio_objects(listing: Mapping[str, Mapping[str, Any]], root_path: str) -> list[AudioObject]:
    """The objects of an fsspec ``find(..., detail=True)`` listing, keyed relative to the root."""
    root = root_path.rstrip("/") + "/"
    objects = []
    for name, info in listing.items():
        if info.get("type", "file") != "file":
            continue
        key = name[len(root) :] if name.startswith(root) else name
        path = PurePosixPath(key)
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        objects.append(
            AudioObject(
                key=key,
                signature=signature(info),
                track_id=stem if _TRACK_ID.match(stem) else None,
                suffix=path.suffix.lower(),
                size=int(info.get("size") or 0),
            )
        )
    return sorted(objects, key=lambda o: o.key)


def signature(info: Mapping[str, Any]) -> str:
    """``<size>:<ETag, last modified or mtime>`` from an fsspec info dict (S3, a local disk,
    GCS and Azure spell the names differently)."""
    fields = {str(name).lower().replace("_", ""): value for name, value in info.items()}
    version = next(
        (fields[n] for n in ("etag", "lastmodified", "mtime", "updated") if fields.get(n)), ""
    )
    return f"{info.get('size', '')}:{str(version).strip(chr(34))}"


def one_per_track(objects: Iterable[AudioObject]) -> tuple[list[AudioObject], list[AudioObject]]:
    """``(chosen, shadowed)``: per track the preferred format; objects without a track id are
    kept (they go to quarantine, named)."""
    chosen: dict[str, AudioObject] = {}
    shadowed, unnamed = [], []
    for obj in objects:
        if obj.track_id is None:
            unnamed.append(obj)
            continue
        held = chosen.get(obj.track_id)
        if held is None or _preference(obj) < _preference(held):
            if held is not None:
                shadowed.append(held)
            chosen[obj.track_id] = obj
        else:
            shadowed.append(obj)
    return sorted([*chosen.values(), *unnamed], key=lambda o: o.key), shadowed


def quarantine_payload(obj: AudioObject, version: str) -> dict[str, str]:
    """What the quarantine keeps of rejected audio: where it is, which file, which extractor
    (never the audio itself; the object stays in the store)."""
    return {"object_key": obj.key, "signature": obj.signature, "extractor_version": version}


def rejected(obj: AudioObject, version: str, reason: str, detail: str) -> QuarantinedItem:
    return QuarantinedItem(
        source=QUARANTINE_SOURCE,
        payload=quarantine_payload(obj, version),
        reason=f"{reason}: {detail}",
        field="audio",
    )


def plan(
    connection: Connection,
    objects: Sequence[AudioObject],
    version: str,
    *,
    only: Iterable[str] = (),
    reanalyse: bool = False,
) -> tuple[list[AudioObject], list[AudioObject]]:
    """``(todo, shadowed)``: one file per track among those not known to be bad, pending (see
    :func:`pending`), each carrying the track's other usable files as fallbacks."""
    wanted = set(only)
    if wanted:
        objects = [o for o in objects if o.track_id in wanted]
    if not reanalyse:
        bad = known_bad(connection, objects, version)
        objects = [o for o in objects if o.key not in bad]
    chosen, shadowed = one_per_track(objects)
    todo = pending(connection, chosen, version, reanalyse=reanalyse)
    return with_fallbacks(todo, shadowed), shadowed


def with_fallbacks(
    chosen: Sequence[AudioObject], others: Iterable[AudioObject]
) -> list[AudioObject]:
    """``chosen`` with each track's ``others`` attached in order of preference."""
    by_track: dict[str, list[AudioObject]] = {}
    for other in others:
        if other.track_id is not None:
            by_track.setdefault(other.track_id, []).append(other)
    return [
        replace(obj, fallbacks=tuple(sorted(by_track.get(obj.track_id, []), key=_preference)))
        if obj.track_id in by_track
        else obj
        for obj in chosen
    ]


def pending(
    connection: Connection,
    objects: Sequence[AudioObject],
    version: str,
    *,
    only: Iterable[str] = (),
    reanalyse: bool = False,
) -> list[AudioObject]:
    """The objects to analyse now (see the module's docstring); ``only`` narrows to track ids,
    ``reanalyse`` ignores earlier results and quarantines."""
    wanted = set(only)
    if wanted:
        objects = [o for o in objects if o.track_id in wanted]
    if reanalyse:
        return list(objects)
    done = {
        track_id: (key, signature)
        for track_id, key, signature in connection.execute(
            select(
                track_audio_features.c.track_id,
                track_audio_features.c.object_key,
                track_audio_features.c.source_signature,
            ).where(track_audio_features.c.extractor_version == version)
        )
    }
    bad_keys = known_bad(connection, objects, version)
    return [
        o
        for o in objects
        if o.key not in bad_keys
        and (o.track_id is None or done.get(o.track_id) != (o.key, o.signature))
    ]


def known_bad(connection: Connection, objects: Sequence[AudioObject], version: str) -> set[str]:
    """Keys of ``objects`` this version quarantined as they are now (same signature), for a
    reason that is the file's (not ``RETRIED_REASONS``)."""
    digests = {payload_sha256(quarantine_payload(o, version)): o.key for o in objects}
    found: set[str] = set()
    keys = list(digests)
    for start in range(0, len(keys), _IN_CHUNK):
        found.update(
            connection.execute(
                select(quarantine.c.payload_sha256).where(
                    quarantine.c.source == QUARANTINE_SOURCE,
                    quarantine.c.payload_sha256.in_(keys[start : start + _IN_CHUNK]),
                    *(~quarantine.c.reason.startswith(reason) for reason in RETRIED_REASONS),
                )
            ).scalars()
        )
    return {digests[digest] for digest in found}


def withdraw_features(connection: Connection, rejected_objects: Iterable[AudioObject]) -> int:
    """Delete the features (of any version) made from what a now-rejected key held before it
    was replaced: a track whose only good file was replaced by a bad one then has no current
    features, instead of the old file's."""
    withdrawn = 0
    for obj in rejected_objects:
        if obj.track_id is None:
            continue
        result = connection.execute(
            delete(track_audio_features).where(
                track_audio_features.c.track_id == obj.track_id,
                track_audio_features.c.object_key == obj.key,
                track_audio_features.c.source_signature != obj.signature,
            )
        )
        withdrawn += result.rowcount
    return withdrawn


def batches(
    objects: Sequence[AudioObject], size: int, *, most: int = MAX_BATCHES
) -> list[list[AudioObject]]:
    """``objects`` in batches of ``size``, or larger ones if ``size`` would make more than
    ``most`` batches."""
    size = max(size, -(-len(objects) // most))
    return [list(objects[start : start + size]) for start in range(0, len(objects), size)]


def feature_row(
    obj: AudioObject,
    data: bytes,
    features: Mapping[str, Any],
    *,
    version: str,
    source_sample_rate: int,
    channels: int,
    run: RunRef,
    at: datetime,
) -> dict[str, Any]:
    return {
        "track_id": obj.track_id,
        "extractor_version": version,
        "object_key": obj.key,
        "source_signature": obj.signature,
        "audio_sha256": hashlib.sha256(data).hexdigest(),
        "source_sample_rate": source_sample_rate,
        "channels": channels,
        **features,
        "run_id": run.run_id,
        "trace_id": run.trace_id,
        "analysed_at": at,
    }


def record_features(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or replace the rows (a retried or re-mapped batch writes the same rows)."""
    if not rows:
        return 0
    return upsert(connection, track_audio_features, rows, key=("track_id", "extractor_version"))


def _preference(obj: AudioObject) -> tuple[int, str]:
    rank = (
        SUFFIX_PREFERENCE.index(obj.suffix)
        if obj.suffix in SUFFIX_PREFERENCE
        else len(SUFFIX_PREFERENCE)
    )
    return rank, obj.key
