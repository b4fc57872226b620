"""Audio features against known answers: synthetic music of a chosen tempo, key and mode, in
every format the decoder reads, and each kind of audio that cannot be described, by name."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from spotify_agent.ml.audio import features
from spotify_agent.ml.audio.features import (
    AudioRejected,
    analyse,
    extract_features,
    extractor_version,
    non_finite_fields,
)
from spotify_agent.ml.audio.synthetic import ClipSpec, synth_clip


def encoded(samples: np.ndarray, rate: int, format: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=format, subtype=subtype)
    return buffer.getvalue()


def within(found: float, true: float, tolerance: float = 0.04) -> bool:
    return abs(found - true) / true <= tolerance


@pytest.mark.parametrize(
    ("tempo", "tonic", "mode"),
    [(96, 10, "major"), (104, 3, "minor"), (118, 8, "major"), (128, 1, "minor"), (140, 6, "major")],
)
def test_tempo_key_and_mode_are_found_on_music_of_known_tempo_and_key(tempo, tonic, mode):
    spec = ClipSpec(tempo, tonic, mode, seconds=20, seed=tempo)

    found = extract_features(synth_clip(spec))

    assert within(found.tempo_bpm, tempo), (found.tempo_bpm, tempo)
    assert (found.key, found.mode) == (tonic, mode), (found.key_name, spec.key_name)
    assert found.beat_confidence > 0.5 and found.key_confidence > 0.5
    assert found.analysed_seconds == pytest.approx(20, abs=0.01)
    assert len(found.mfcc_mean) == len(found.mfcc_std) == 13 and len(found.chroma_mean) == 12
    # the tonic's pitch class is among the loudest in the chroma profile
    assert tonic in np.argsort(found.chroma_mean)[-3:]


@pytest.mark.parametrize("tempo", [72, 165, 176])
def test_tempos_far_from_120_are_found_or_at_an_octave(tempo):
    found = extract_features(synth_clip(ClipSpec(tempo, 0, "major", seconds=20)))

    assert any(within(found.tempo_bpm, tempo * m) for m in (0.5, 1, 2)), found.tempo_bpm


@pytest.mark.parametrize(
    ("suffix", "format", "subtype"),
    [
        (".wav", "WAV", "PCM_16"),
        (".flac", "FLAC", None),
        (".ogg", "OGG", None),
        (".mp3", "MP3", None),
    ],
)
def test_every_supported_format_decodes_to_the_same_music(suffix, format, subtype):
    spec = ClipSpec(118, 8, "major", seconds=12, sample_rate=44100, seed=1)
    stereo = np.stack([synth_clip(spec), synth_clip(spec) * 0.5], axis=1)

    decoded, found = analyse(encoded(stereo, 44100, format, subtype), suffix)

    assert decoded.source_sample_rate == 44100 and decoded.channels == 2
    assert found.duration_seconds == pytest.approx(12, abs=0.1)
    assert within(found.tempo_bpm, 118) and found.key_name == "G# major"


def test_the_same_bytes_give_the_same_features():
    data = encoded(synth_clip(ClipSpec(100, 2, "minor", seconds=10)), 22050, "FLAC")

    assert analyse(data, ".flac")[1] == analyse(data, ".flac")[1]


def test_the_version_names_the_feature_set_and_librosa():
    import librosa

    assert extractor_version() == f"{features.FEATURE_SET}+librosa{librosa.__version__}"


def _float_wav_with_nan() -> bytes:
    samples = synth_clip(ClipSpec(120, 0, "major", seconds=8))
    samples[1000] = np.nan
    return encoded(samples, 22050, "WAV", "FLOAT")


@pytest.mark.parametrize(
    ("data", "suffix", "reason"),
    [
        (b"", ".wav", "empty"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt this is not audio" * 20, ".wav", "undecodable"),
        (np.random.default_rng(0).bytes(50_000), ".flac", "undecodable"),
        (b"ID3 truncated", ".mp3", "undecodable"),
        (encoded(np.zeros(22050 * 10, dtype=np.float32), 22050, "WAV"), ".wav", "silent"),
        (
            encoded(np.random.default_rng(1).normal(0, 2e-4, 22050 * 10), 22050, "WAV", "FLOAT"),
            ".wav",
            "silent",
        ),
        (
            encoded(synth_clip(ClipSpec(120, 0, "major", seconds=2)), 22050, "WAV"),
            ".wav",
            "too_short",
        ),
        (b"\x00\x00\x00\x20ftypM4A ", ".m4a", "unsupported_format"),
        (
            encoded(synth_clip(ClipSpec(120, 0, "major", seconds=8)), 22050, "WAV"),
            "",
            "unsupported_format",
        ),
    ],
    ids=[
        "empty",
        "garbage-wav",
        "random-bytes",
        "truncated-mp3",
        "digital-silence",
        "noise-floor",
        "two-seconds",
        "m4a",
        "no-suffix",
    ],
)
def test_audio_that_cannot_be_described_is_rejected_by_name(data, suffix, reason):
    with pytest.raises(AudioRejected) as rejection:
        analyse(data, suffix)

    assert rejection.value.reason == reason
    assert rejection.value.detail  # a person can read why


def test_samples_that_are_not_numbers_are_rejected():
    with pytest.raises(AudioRejected, match="undecodable: .*NaN"):
        analyse(_float_wav_with_nan(), ".wav")


def test_a_feature_that_comes_out_nan_is_rejected_naming_it(monkeypatch):
    import librosa

    def nan_centroid(**kwargs):
        return np.full((1, kwargs["S"].shape[1]), np.nan)

    monkeypatch.setattr(librosa.feature, "spectral_centroid", nan_centroid)

    with pytest.raises(AudioRejected) as rejection:
        extract_features(synth_clip(ClipSpec(120, 0, "major", seconds=8)))

    assert rejection.value.reason == "non_finite_features"
    assert "spectral_centroid_mean" in rejection.value.detail
    assert "energy" in rejection.value.detail  # derived from it


def test_non_finite_fields_looks_inside_the_vectors():
    found = extract_features(synth_clip(ClipSpec(120, 0, "major", seconds=8)))
    broken = features.AudioFeatures(**{**found.as_dict(), "mfcc_std": [1.0, float("inf")]})

    assert non_finite_fields(found) == [] and non_finite_fields(broken) == ["mfcc_std"]


def test_long_audio_is_described_by_its_first_minutes(monkeypatch):
    monkeypatch.setattr(features, "MAX_SECONDS", 8.0)
    data = encoded(synth_clip(ClipSpec(110, 5, "major", seconds=12)), 22050, "WAV")

    _, found = analyse(data, ".wav")

    assert found.duration_seconds == pytest.approx(12, abs=0.01)
    assert found.analysed_seconds == pytest.approx(8, abs=0.01)


def test_drums_dance_and_a_quiet_pad_has_little_energy():
    band = extract_features(synth_clip(ClipSpec(118, 0, "major", seconds=15)))
    pad = extract_features(
        synth_clip(ClipSpec(118, 0, "major", seconds=15, drums=False, gain_db=-24))
    )

    assert band.danceability > pad.danceability + 0.2
    assert band.beat_confidence > pad.beat_confidence
    assert band.energy > pad.energy + 0.2
    assert band.loudness_db > pad.loudness_db + 15
    assert band.onset_rate > pad.onset_rate
    for score in (band.energy, band.danceability, pad.energy, pad.danceability):
        assert 0.0 <= score <= 1.0


def test_a_truncated_file_is_judged_by_the_audio_it_holds():
    whole = encoded(synth_clip(ClipSpec(120, 0, "major", seconds=20)), 22050, "WAV", "PCM_16")
    cut = whole[: 44 + 22050 * 2 * 3]  # the header still says 20 s; 3 s of samples remain

    with pytest.raises(AudioRejected) as rejection:
        analyse(cut, ".wav")

    assert rejection.value.reason == "too_short" and rejection.value.detail.startswith("3.00 s")
