"""audio_analysis end to end: synthetic music of known tempo and key in several formats, and bad
files of every kind, in one store; batches fan out, the music's features are right, each bad
file is quarantined by name, a re-run does nothing, a replaced file is analysed again."""

from __future__ import annotations

import io

import pytest
import soundfile
from sqlalchemy import create_engine, select

from spotify_agent.core.quarantine import decode_payload
from spotify_agent.ml.audio.features import extractor_version
from spotify_agent.ml.audio.synthetic import ClipSpec, synth_clip
from spotify_agent.warehouse.schema import audit_log, quarantine, track_audio_features

# track id -> (file name, spec); three good tracks in three formats, at 44.1 kHz like real audio
GOOD = {
    "1aaaaaaaaaaaaaaaaaaaaa": ("wav", ClipSpec(96, 2, "major", 12, sample_rate=44100, seed=1)),
    "2bbbbbbbbbbbbbbbbbbbbb": ("flac", ClipSpec(128, 9, "minor", 12, sample_rate=44100, seed=2)),
    "3ccccccccccccccccccccc": ("mp3", ClipSpec(110, 7, "major", 12, sample_rate=44100, seed=3)),
}
CORRUPT, SILENT, SHORT, M4A = (
    "4ddddddddddddddddddddd",
    "5eeeeeeeeeeeeeeeeeeeee",
    "6fffffffffffffffffffff",
    "7ggggggggggggggggggggg",
)
EXPECTED_REASONS = {
    f"audio/{CORRUPT}.wav": "undecodable",
    f"audio/{SILENT}.wav": "silent",
    f"audio/{SHORT}.wav": "too_short",
    f"audio/{M4A}.m4a": "unsupported_format",
    "audio/liner notes.txt": "not_a_track_id",
}


def encoded(samples, rate: int, format: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=format)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def store(airflow_home):
    audio = airflow_home.objects_path / "audio"
    (audio / "albums").mkdir(parents=True)
    for track_id, (suffix, spec) in GOOD.items():
        (audio / "albums" / f"{track_id}.{suffix}").write_bytes(
            encoded(synth_clip(spec), spec.sample_rate, suffix.upper())
        )
    # the same track twice: the lossless file is analysed, the mp3 is shadowed
    spec = GOOD["2bbbbbbbbbbbbbbbbbbbbb"][1]
    (audio / "2bbbbbbbbbbbbbbbbbbbbb.mp3").write_bytes(encoded(synth_clip(spec), 44100, "MP3"))
    (audio / f"{CORRUPT}.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 100)
    (audio / f"{SILENT}.wav").write_bytes(encoded([0.0] * 22050 * 10, 22050, "WAV"))
    short = synth_clip(ClipSpec(120, 0, "major", 2))
    (audio / f"{SHORT}.wav").write_bytes(encoded(short, 22050, "WAV"))
    (audio / f"{M4A}.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A ")
    (audio / "liner notes.txt").write_text("not audio")
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    yield engine
    engine.dispose()


def _features(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(track_audio_features)).mappings()
        return {row["track_id"]: dict(row) for row in rows}


def _quarantined(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(quarantine).where(quarantine.c.source == "audio_analysis")
        ).mappings()
        return {
            decode_payload(row["payload_encoding"], row["payload"])["object_key"]: row["reason"]
            for row in rows
        }


def _batch_audits(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log).where(audit_log.c.action == "audio_features_extracted")
        ).mappings()
        return [dict(row) for row in rows]


@pytest.fixture(scope="module")
def first_run(airflow_home, store):
    result = airflow_home.dags_test("audio_analysis", {"batch_size": 3})
    assert result.returncode == 0, result.stdout[-4000:]
    return _features(store)


def test_the_music_is_described_with_its_tempo_key_and_mode(first_run):
    assert set(first_run) == set(GOOD)
    for track_id, (_, spec) in GOOD.items():
        row = first_run[track_id]
        assert abs(row["tempo_bpm"] - spec.tempo_bpm) / spec.tempo_bpm <= 0.04, row["tempo_bpm"]
        assert (row["key"], row["mode"]) == (spec.tonic, spec.mode)
        assert row["extractor_version"] == extractor_version()
        assert row["source_sample_rate"] == 44100 and row["duration_seconds"] == pytest.approx(
            12, abs=0.1
        )
        assert len(row["mfcc_mean"]) == 13 and len(row["chroma_mean"]) == 12
        assert 0 <= row["energy"] <= 1 and 0 <= row["danceability"] <= 1
    assert first_run["2bbbbbbbbbbbbbbbbbbbbb"]["object_key"].endswith(".flac")


def test_every_bad_file_is_quarantined_with_its_reason_and_counted(store, first_run):
    quarantined = _quarantined(store)
    assert {key: reason.split(":")[0] for key, reason in quarantined.items()} == EXPECTED_REASONS

    audits = _batch_audits(store)
    # 8 files (one per track, the shadowed mp3 left out) in batches of 3
    assert len(audits) == 3
    totals: dict[str, int] = {}
    for audit in audits:
        for name, value in audit["counts"].items():
            totals[name] = totals.get(name, 0) + value
    assert totals["tracks"] == 8 and totals["rows_written"] == 3 and totals["quarantined"] == 5
    assert totals["quarantined_silent"] == 1 and totals["audio_seconds"] == 36
    assert all(audit["detail"] == extractor_version() for audit in audits)


def test_a_rerun_finds_nothing_to_do(airflow_home, store, first_run):
    audits = len(_batch_audits(store))

    result = airflow_home.dags_test("audio_analysis")

    assert result.returncode == 0, result.stdout[-4000:]
    assert len(_batch_audits(store)) == audits
    assert _features(store) == first_run


def test_a_replaced_file_is_analysed_again_and_nothing_else(airflow_home, store, first_run):
    spec = ClipSpec(100, 4, "minor", 10, seed=9)
    (airflow_home.objects_path / "audio" / f"{CORRUPT}.wav").write_bytes(
        encoded(synth_clip(spec), 22050, "WAV")
    )
    audits = len(_batch_audits(store))

    result = airflow_home.dags_test("audio_analysis")

    assert result.returncode == 0, result.stdout[-4000:]
    new = _batch_audits(store)[audits:]
    assert [audit["counts"]["tracks"] for audit in new] == [1]
    row = _features(store)[CORRUPT]
    assert (row["key"], row["mode"]) == (4, "minor")


@pytest.mark.parametrize(
    ("conf", "field"),
    [({"batch_size": 0}, "batch_size"), ({"track_ids": ["not-a-track"]}, "track_ids")],
)
def test_bad_conf_is_refused_before_the_run_naming_the_field(airflow_home, store, conf, field):
    audits = len(_batch_audits(store))

    result = airflow_home.dags_test("audio_analysis", conf)

    assert result.returncode != 0
    assert field in result.stdout + result.stderr
    assert len(_batch_audits(store)) == audits
