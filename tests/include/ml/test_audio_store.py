"""Which audio is pending: new, replaced and stale-version files are; analysed and quarantined
files are not (both warehouse backends); listings of a local disk and of a real S3 API agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spotify_agent.core.quarantine import RunRef, quarantine_items
from spotify_agent.ml.audio.store import (
    AudioObject,
    audio_objects,
    feature_row,
    one_per_track,
    pending,
    record_features,
    rejected,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
RUN = RunRef("audio_analysis", "manual__1", "analyse_batch", "0" * 32)
TRACK_A, TRACK_B, TRACK_C = (
    "4uLU6hMCjMI75M1A2tKUQC",
    "0VjIjW4GlUZAMYd2vXMi3b",
    "7qiZfU4dY1lWllzX7mPBI3",
)
V1, V2 = "af1+librosa0.11.0", "af2+librosa0.11.0"
FEATURES = {
    "duration_seconds": 30.0,
    "analysed_seconds": 30.0,
    "tempo_bpm": 120.0,
    "beat_confidence": 0.9,
    "key": 0,
    "mode": "major",
    "key_confidence": 0.8,
    "loudness_db": -14.0,
    "spectral_centroid_mean": 1500.0,
    "spectral_centroid_std": 300.0,
    "spectral_bandwidth_mean": 1800.0,
    "spectral_rolloff_mean": 3000.0,
    "zero_crossing_rate": 0.05,
    "onset_rate": 3.0,
    "energy": 0.6,
    "danceability": 0.8,
    "mfcc_mean": [0.0] * 13,
    "mfcc_std": [1.0] * 13,
    "chroma_mean": [0.5] * 12,
}


def obj(track_id: str | None, suffix: str = ".wav", signature: str = "100:1") -> AudioObject:
    return AudioObject(f"audio/{track_id or 'cover-art'}{suffix}", signature, track_id, suffix)


def analysed(connection, item: AudioObject, version: str) -> None:
    record_features(
        connection,
        [
            feature_row(
                item,
                b"audio",
                FEATURES,
                version=version,
                source_sample_rate=44100,
                channels=2,
                run=RUN,
                at=NOW,
            )
        ],
    )


def test_new_replaced_and_stale_version_audio_is_pending_the_rest_is_not(warehouse):
    done, replaced, new = obj(TRACK_A), obj(TRACK_B, signature="200:1"), obj(TRACK_C)
    with warehouse.begin() as connection:
        analysed(connection, done, V1)
        analysed(connection, obj(TRACK_B, signature="150:0"), V1)  # the file since replaced

    with warehouse.connect() as connection:
        now = pending(connection, [done, replaced, new], V1)
        after_upgrade = pending(connection, [done, replaced, new], V2)
        only_a = pending(connection, [done, replaced, new], V1, only=[TRACK_A], reanalyse=True)

    assert now == [replaced, new]
    assert after_upgrade == [done, replaced, new]
    assert only_a == [done]


def test_quarantined_audio_waits_until_its_file_is_replaced(warehouse):
    bad, unnamed = obj(TRACK_A), obj(None, ".wav")
    with warehouse.begin() as connection:
        quarantine_items(
            connection,
            [
                rejected(bad, V1, "silent", "RMS -90 dBFS"),
                rejected(unnamed, V1, "not_a_track_id", "x"),
            ],
            run=RUN,
            at=NOW,
        )

    with warehouse.connect() as connection:
        assert pending(connection, [bad, unnamed], V1) == []
        assert pending(connection, [bad, unnamed], V2) == [bad, unnamed]
        assert pending(connection, [obj(TRACK_A, signature="999:2")], V1) != []
        assert pending(connection, [bad], V1, reanalyse=True) == [bad]


def test_a_rerun_of_a_batch_rewrites_the_same_row(warehouse):
    from sqlalchemy import func, select

    from spotify_agent.warehouse.schema import track_audio_features

    with warehouse.begin() as connection:
        analysed(connection, obj(TRACK_A), V1)
        analysed(connection, obj(TRACK_A), V1)
        analysed(connection, obj(TRACK_A), V2)  # a new version sits beside the old one

    with warehouse.connect() as connection:
        rows = connection.execute(
            select(track_audio_features.c.extractor_version, func.count()).group_by(
                track_audio_features.c.extractor_version
            )
        ).all()
        stored = connection.execute(select(track_audio_features.c.mfcc_mean)).scalars().first()
    assert sorted(rows) == [(V1, 1), (V2, 1)]
    assert stored == [0.0] * 13


def test_one_file_per_track_lossless_first_and_unnamed_files_kept_for_quarantine():
    mp3, flac, wav = obj(TRACK_A, ".mp3"), obj(TRACK_A, ".flac"), obj(TRACK_A, ".wav")
    other, unnamed = obj(TRACK_B, ".ogg"), obj(None, ".jpg")

    chosen, shadowed = one_per_track([mp3, wav, other, flac, unnamed])

    assert set(chosen) == {flac, other, unnamed}
    assert set(shadowed) == {mp3, wav}


def _upload(root_write, names: list[str]) -> None:
    for name in names:
        root_write(f"audio/{name}", b"not audio, just bytes")


NAMES = [f"{TRACK_A}.wav", f"rock/{TRACK_B}.FLAC", "cover art.jpg"]


def _check_listing(objects: list[AudioObject]) -> None:
    assert [(o.key, o.track_id, o.suffix) for o in objects] == [
        (f"audio/{TRACK_A}.wav", TRACK_A, ".wav"),
        ("audio/cover art.jpg", None, ".jpg"),
        (f"audio/rock/{TRACK_B}.FLAC", TRACK_B, ".flac"),
    ]
    assert all(o.signature.startswith(f"{len(b'not audio, just bytes')}:") for o in objects)
    assert all(len(o.signature) > len("21:") for o in objects)  # a version part, not only size


def test_a_local_folder_lists_keys_relative_to_the_root(tmp_path):
    from fsspec.implementations.local import LocalFileSystem

    def write(key: str, data: bytes) -> None:
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    _upload(write, NAMES)
    fs = LocalFileSystem()

    objects = audio_objects(fs.find(str(tmp_path / "audio"), detail=True), str(tmp_path))

    _check_listing(objects)
    before = {o.key: o.signature for o in objects}
    (tmp_path / "audio" / f"{TRACK_A}.wav").write_bytes(b"a longer replacement file")
    after = audio_objects(fs.find(str(tmp_path / "audio"), detail=True), str(tmp_path))
    assert {o.key: o.signature for o in after}[f"audio/{TRACK_A}.wav"] != before[
        f"audio/{TRACK_A}.wav"
    ]


def test_an_s3_bucket_lists_the_same_keys_with_etags(s3_server):
    import s3fs

    fs = s3fs.S3FileSystem(
        key="testing",
        secret="testing",  # pragma: allowlist secret
        client_kwargs={"endpoint_url": s3_server.endpoint_url, "region_name": "eu-west-1"},
    )
    root = f"{s3_server.bucket}/store-{pytest.__name__}-audio"

    def write(key: str, data: bytes) -> None:
        fs.pipe(f"{root}/{key}", data)

    _upload(write, NAMES)
    fs.invalidate_cache()

    objects = audio_objects(fs.find(f"{root}/audio", detail=True), root)

    _check_listing(objects)


def test_a_file_whose_analysis_failed_on_our_side_is_tried_again(warehouse):
    item = obj(TRACK_A)
    with warehouse.begin() as connection:
        quarantine_items(
            connection, [rejected(item, V1, "analysis_failed", "RuntimeError()")], run=RUN, at=NOW
        )

    with warehouse.connect() as connection:
        assert pending(connection, [item], V1) == [item]


@pytest.mark.parametrize(
    "info",
    [
        {"size": 10, "ETag": '"abc"'},  # S3
        {"size": 10, "etag": "abc", "updated": "2026-11-27"},  # GCS
        {"size": 10, "etag": "0x8DC", "last_modified": "2026-11-27"},  # Azure
        {"size": 10, "mtime": 1764201600.0},  # a local disk
    ],
    ids=["s3", "gcs", "azure", "local"],
)
def test_every_store_gives_a_signature_that_changes_with_the_object(info):
    from spotify_agent.ml.audio.store import signature

    found = signature(info)

    assert found.startswith("10:") and len(found) > 3
    assert signature({**info, "size": 11}) != found


def test_batches_grow_rather_than_map_more_tasks_than_airflow_allows():
    from spotify_agent.ml.audio.store import batches

    objects = [obj(f"{n:022d}") for n in range(2500)]

    assert [len(b) for b in batches(objects[:120], 50)] == [50, 50, 20]
    grown = batches(objects, 1, most=1000)
    assert len(grown) <= 1000 and sum(len(b) for b in grown) == 2500
    assert [o for b in grown for o in b] == objects
    assert batches([], 50) == []
