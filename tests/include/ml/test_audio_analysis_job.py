"""The audio_analysis job without Airflow, on each warehouse backend: the plan batches one file
per track and leaves the rest for the next run, a batch writes its features, quarantine and
audit row for the attempt, a re-run plans nothing, and an unreadable file fails the batch only
after the rest is written."""

from __future__ import annotations

import io
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
import soundfile
from sqlalchemy import select
from upath import UPath

from spotify_agent.core.audit import Attempt
from spotify_agent.core.numbers import format_number
from spotify_agent.core.progress import round_significant
from spotify_agent.core.quarantine import decode_payload
from spotify_agent.ml.audio.analysis import (
    AnalysedBatch,
    UnreadableAudio,
    analyse_audio_batch,
    plan_audio_batches,
)
from spotify_agent.ml.audio.features import extractor_version
from spotify_agent.ml.audio.synthetic import ClipSpec, synth_clip
from spotify_agent.ml.confs import AudioAnalysisConf
from spotify_agent.warehouse.schema import audit_log, quarantine, track_audio_features

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ATTEMPT = Attempt(
    "audio_analysis", "manual__audio-job", "ab" * 16, task_id="analyse_batch", try_number=1
)
GOOD, OTHER = "4uLU6hMCjMI75M1A2tKUQC", "0VjIjW4GlUZAMYd2vXMi3b"
CORRUPT = b"RIFF\x10\x00\x00\x00WAVEjunk" * 100


def _clip(tempo: int, tonic: int) -> bytes:
    spec = ClipSpec(tempo, tonic, "major", 6, seed=tempo)
    buffer = io.BytesIO()
    soundfile.write(buffer, synth_clip(spec), spec.sample_rate, format="WAV")
    return buffer.getvalue()


def _write(objects, name: str, data: bytes) -> None:
    path = objects / "audio" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def objects(tmp_path: Path) -> UPath:
    root = UPath(str(tmp_path / "objects"))
    # The WAV is the good file; the preferred FLAC of the same track is corrupt.
    _write(root, f"{GOOD}.flac", CORRUPT)
    _write(root, f"{GOOD}.wav", _clip(120, 0))
    _write(root, "liner notes.txt", b"not audio")
    return root


def _features(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(track_audio_features.c.track_id, track_audio_features.c.object_key)
        )
        return {track_id: key for track_id, key in rows}


def _quarantined(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(quarantine.c.payload_encoding, quarantine.c.payload, quarantine.c.reason)
        )
        return {
            decode_payload(encoding, text)["object_key"]: reason.split(":")[0]
            for encoding, text, reason in rows
        }


def test_a_planned_batch_is_analysed_written_and_audited_for_the_attempt(
    warehouse, objects, caplog
) -> None:
    planned = plan_audio_batches(warehouse, objects, AudioAnalysisConf())

    assert (planned.listed, planned.later, len(planned.batches)) == (3, 0, 1)
    (batch,) = planned.as_result()
    assert [item["key"] for item in batch] == [f"audio/{GOOD}.flac", "audio/liner notes.txt"]
    assert [fallback["key"] for fallback in batch[0]["fallbacks"]] == [f"audio/{GOOD}.wav"]

    caplog.set_level(logging.INFO, logger="spotify_agent.ml.audio.analysis")
    analysed = analyse_audio_batch(warehouse, objects, batch, ATTEMPT, now=NOW, every_s=0)

    assert _features(warehouse) == {GOOD: f"audio/{GOOD}.wav"}
    assert _quarantined(warehouse) == {
        f"audio/{GOOD}.flac": "undecodable",
        "audio/liner notes.txt": "not_a_track_id",
    }
    assert analysed.counts["tracks"] == 2 and analysed.counts["rows_written"] == 1
    assert analysed.counts["quarantined"] == 2 and analysed.counts["audio_seconds"] == 6
    with warehouse.connect() as connection:
        (audit,) = connection.execute(
            select(audit_log).where(audit_log.c.action == "audio_features_extracted")
        ).mappings()
    assert audit["counts"] == analysed.counts
    assert (audit["run_id"], audit["trace_id"], audit["detail"]) == (
        ATTEMPT.run_id,
        ATTEMPT.trace_id,
        extractor_version(),
    )
    assert audit["entity_key"] == f"audio/{GOOD}.flac +1"
    # The next run knows the FLAC and the notes are bad and the WAV done.
    assert plan_audio_batches(warehouse, objects, AudioAnalysisConf()).batches == ()
    # How far it is, file by file (every_s=0), then one line of what it did and how fast.
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("analysing")]
    name = f"analysing audio/{GOOD}.flac +1"
    assert progress[0] == f"{name}: starting, 2 files"
    assert progress[1].startswith(f"{name}: 1 of 2 files (50%)")
    assert progress[2].startswith(f"{name}: 2 of 2 files (100%)")
    assert progress[3].startswith(f"{name}: done, 2 files in ")
    line = analysed.summary_line()
    assert line.startswith(
        f"{extractor_version()}: analysed 2 files: 1 feature rows written, "
        "2 quarantined (1 not a track id, 1 undecodable); 6 s of audio in "
    )
    # The factor is the one measured: seconds of audio per second of wall time.
    factor = analysed.real_time_factor
    assert factor == pytest.approx(analysed.audio_seconds / analysed.seconds)
    assert f", {format_number(round_significant(factor, 3))}x real time" in line


def test_the_log_states_the_real_time_factor_it_measured() -> None:
    counts = {"tracks": 60, "rows_written": 60, "audio_seconds": 1807, "quarantined": 0,
              "features_withdrawn": 0, "vanished": 0, "unreadable": 0}  # fmt: skip
    # 1,807 s of audio in 6 s is 301x, not "3x"; librosa's first use is stated apart.
    batch = AnalysedBatch("af1", counts, 1807.2, 6.0, first_use_seconds=3.4)

    assert batch.summary_line() == (
        "af1: analysed 60 files: 60 feature rows written; 1,807 s of audio in 6 s, "
        "301x real time (librosa's first use took 3.4 s more, left out)"
    )
    assert AnalysedBatch("af1", counts, 0.0, 0.5).speed() == "0 s of audio in 0.5 s"


def test_past_max_tracks_the_rest_waits_for_the_next_run(warehouse, objects) -> None:
    _write(objects, f"{OTHER}.wav", _clip(100, 7))

    planned = plan_audio_batches(warehouse, objects, AudioAnalysisConf(max_tracks=1))

    assert sum(len(batch) for batch in planned.batches) == 1 and planned.later == 2
    assert "1 to analyse now, 2 left for the next run" in planned.summary_line()
    only = plan_audio_batches(warehouse, objects, AudioAnalysisConf(track_ids=[OTHER]))
    assert [[obj.key for obj in batch] for batch in only.batches] == [[f"audio/{OTHER}.wav"]]


class _Unreadable:
    """The store with one object that cannot be read (permissions, the store failing)."""

    def __init__(self, root: UPath, key: str) -> None:
        self.root, self.key = root, key

    def __truediv__(self, key: str):
        if key == self.key:
            raise PermissionError(f"{key}: access denied")
        return self.root / key


def test_an_unreadable_file_fails_the_batch_after_the_rest_is_written(warehouse, objects) -> None:
    _write(objects, f"{OTHER}.wav", _clip(100, 7))
    (batch,) = plan_audio_batches(warehouse, objects, AudioAnalysisConf()).as_result()
    store = _Unreadable(objects, f"audio/{GOOD}.wav")

    with pytest.raises(UnreadableAudio, match=f"1 objects could not be read.*{GOOD}.wav"):
        analyse_audio_batch(warehouse, store, batch, ATTEMPT, now=NOW)

    assert _features(warehouse) == {OTHER: f"audio/{OTHER}.wav"}
    with warehouse.connect() as connection:
        counts = connection.execute(
            select(audit_log.c.counts).where(audit_log.c.action == "audio_features_extracted")
        ).scalar_one()
    assert counts["unreadable"] == 1 and counts["rows_written"] == 1
    # The retry reads it again: the WAV is still to do.
    (again,) = plan_audio_batches(warehouse, objects, AudioAnalysisConf()).as_result()
    assert [item["key"] for item in again] == [f"audio/{GOOD}.wav"]


def test_the_store_may_be_s3(warehouse, s3_server) -> None:
    objects = UPath(
        f"s3://{s3_server.bucket}/audio-job/{secrets.token_hex(4)}",
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    )
    (objects / "audio" / f"{OTHER}.wav").write_bytes(_clip(100, 7))

    (batch,) = plan_audio_batches(warehouse, objects, AudioAnalysisConf()).as_result()
    analysed = analyse_audio_batch(warehouse, objects, batch, ATTEMPT, now=NOW)

    assert analysed.counts["rows_written"] == 1
    assert _features(warehouse) == {OTHER: f"audio/{OTHER}.wav"}
