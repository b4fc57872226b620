"""A bad audio file never hides a good one of the same track, and a file replaced by a bad one
loses its features: real decoding of synthetic music, on both warehouse backends."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import soundfile
from fsspec.implementations.local import LocalFileSystem
from sqlalchemy import select

from spotify_agent.core.quarantine import RunRef, decode_payload, quarantine_items
from spotify_agent.ml.audio.batch import analyse_batch
from spotify_agent.ml.audio.features import extractor_version
from spotify_agent.ml.audio.store import (
    AudioObject,
    audio_objects,
    plan,
    record_features,
    withdraw_features,
)
from spotify_agent.ml.audio.synthetic import ClipSpec, synth_clip
from spotify_agent.warehouse.schema import quarantine, track_audio_features

NOW = datetime(2026, 11, 27, tzinfo=UTC)
RUN = RunRef("audio_analysis", "manual__1", "analyse_batch", "0" * 32)
TRACK = "4uLU6hMCjMI75M1A2tKUQC"
CORRUPT = b"RIFF\x10\x00\x00\x00WAVEjunk" * 100
VERSION = extractor_version()


def _clip(format: str) -> bytes:
    spec = ClipSpec(120, 0, "major", 6, seed=4)
    buffer = io.BytesIO()
    soundfile.write(buffer, synth_clip(spec), spec.sample_rate, format=format)
    return buffer.getvalue()


def _run(warehouse, root: Path) -> dict[str, int]:
    """One planned and analysed run over ``root``/audio, written as the task writes it."""
    listing = LocalFileSystem().find(str(root / "audio"), detail=True)
    with warehouse.connect() as connection:
        todo, _ = plan(connection, audio_objects(listing, str(root)), VERSION)
    # Through the task's XCom form: fallbacks must survive it.
    todo = [AudioObject.from_dict(obj.as_dict()) for obj in todo]
    result = analyse_batch(
        todo, lambda key: (root / key).read_bytes(), version=VERSION, run=RUN, at=NOW
    )
    with warehouse.begin() as connection:
        withdrawn = withdraw_features(connection, result.rejected)
        record_features(connection, result.rows)
        quarantine_items(connection, result.quarantined, run=RUN, at=NOW)
    return {"tracks": len(todo), "rows": len(result.rows), "withdrawn": withdrawn}


def _state(warehouse) -> tuple[list[str], list[str]]:
    with warehouse.connect() as connection:
        features = list(connection.execute(select(track_audio_features.c.object_key)).scalars())
        rows = connection.execute(select(quarantine.c.payload_encoding, quarantine.c.payload))
        bad = [decode_payload(encoding, text)["object_key"] for encoding, text in rows]
    return features, bad


def _write(root: Path, name: str, data: bytes) -> None:
    path = root / "audio" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_corrupt_preferred_file_does_not_hide_a_good_one(warehouse, tmp_path: Path) -> None:
    # FLAC is preferred over WAV: the corrupt FLAC is tried first, the WAV is analysed.
    _write(tmp_path, f"{TRACK}.flac", CORRUPT)
    _write(tmp_path, f"{TRACK}.wav", _clip("WAV"))
    assert _run(warehouse, tmp_path) == {"tracks": 1, "rows": 1, "withdrawn": 0}
    assert _state(warehouse) == ([f"audio/{TRACK}.wav"], [f"audio/{TRACK}.flac"])
    # The next run knows the FLAC is bad and the WAV done: nothing to do.
    assert _run(warehouse, tmp_path)["tracks"] == 0


def test_a_corrupt_shadowed_file_is_never_needed(warehouse, tmp_path: Path) -> None:
    _write(tmp_path, f"{TRACK}.mp3", CORRUPT)
    _write(tmp_path, f"{TRACK}.flac", _clip("FLAC"))
    assert _run(warehouse, tmp_path) == {"tracks": 1, "rows": 1, "withdrawn": 0}
    assert _state(warehouse) == ([f"audio/{TRACK}.flac"], [])


def test_a_file_replaced_by_a_bad_one_loses_its_features(warehouse, tmp_path: Path) -> None:
    _write(tmp_path, f"{TRACK}.wav", _clip("WAV"))
    assert _run(warehouse, tmp_path)["rows"] == 1
    _write(tmp_path, f"{TRACK}.wav", CORRUPT)
    assert _run(warehouse, tmp_path) == {"tracks": 1, "rows": 0, "withdrawn": 1}
    assert _state(warehouse) == ([], [f"audio/{TRACK}.wav"])


def test_a_replaced_preferred_file_falls_back_to_the_next(warehouse, tmp_path: Path) -> None:
    _write(tmp_path, f"{TRACK}.flac", _clip("FLAC"))
    _write(tmp_path, f"{TRACK}.wav", _clip("WAV"))
    assert _run(warehouse, tmp_path)["rows"] == 1
    _write(tmp_path, f"{TRACK}.flac", CORRUPT)
    assert _run(warehouse, tmp_path) == {"tracks": 1, "rows": 1, "withdrawn": 1}
    assert _state(warehouse) == ([f"audio/{TRACK}.wav"], [f"audio/{TRACK}.flac"])
