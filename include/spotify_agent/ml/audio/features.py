"""Audio features of a track, from its bytes: decode once, one spectrogram shared by every feature.

The naive way calls each librosa feature function on the samples, and each recomputes its own
spectrogram (beat tracking, MFCC and onsets a mel spectrogram each; chroma, centroid, bandwidth
and rolloff an STFT each). Here the STFT is computed once; the mel spectrogram, its log, the
onset envelope, the beats, MFCC, chroma and the spectral shape all derive from it. Same
parameters, same numbers (``bench/audio.py`` checks both ways agree), a fraction of the work.

Everything here is a pure function of the bytes and the constants below; ``FEATURE_SET`` names
them, and :func:`extractor_version` adds librosa's version (its numbers may change with it). A
change of either makes every track's features stale, so ``audio_analysis`` computes them again.

Derived scores (each in [0, 1]; ``ramp(x, lo, hi)`` is ``(x - lo) / (hi - lo)`` clipped to [0, 1]):

* ``energy``: the mean of ``ramp(loudness_db, -40, -6)``, ``ramp(onset_rate, 0, 8)`` and
  ``ramp(spectral_centroid_mean, 500, 4000)``: loud, busy and bright is energetic.
* ``danceability``: ``0.5 * beat_confidence + 0.25 * tempo_fit + 0.25 * regularity``, where
  ``tempo_fit = exp(-(log2(tempo / 115) / 0.5)^2 / 2)`` (a bell around 115 BPM, half an octave
  wide) and ``regularity = 1 / (1 + 10 * cv)`` with ``cv`` the coefficient of variation of the
  intervals between beats: a strong, steady pulse at a walking-to-running tempo.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.metadata import version
from typing import Any

import numpy as np

# The constants of the feature set. Changing any of them is a new FEATURE_SET.
FEATURE_SET = "af1"
SAMPLE_RATE = 22050
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 13
ROLL_PERCENT = 0.85
MIN_SECONDS = 5.0  # beat tracking and key finding need a few bars
MAX_SECONDS = 600.0  # longer audio is described by its first ten minutes
MAX_BYTES = 512 * 1024**2  # a file is read whole; ten minutes of 24-bit 96 kHz stereo is 346 MB
SILENCE_DBFS = -60.0  # a whole-file RMS under this is silence, not music

# Formats libsndfile decodes (mp3 since libsndfile 1.1; the check below asks the library).
FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".mp3": "MP3"}

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl-Kessler key profiles (probe-tone ratings), C major and C minor.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def extractor_version() -> str:
    """``af1+librosa0.11.0``: the feature set and the library that computes it."""
    return f"{FEATURE_SET}+librosa{version('librosa')}"


class AudioRejected(ValueError):
    """Audio that yields no features: ``reason`` is one of the documented codes."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # mono float32 at SAMPLE_RATE, at most MAX_SECONDS
    duration_seconds: float  # of the whole file
    source_sample_rate: int
    channels: int


@dataclass(frozen=True)
class AudioFeatures:
    duration_seconds: float
    analysed_seconds: float
    tempo_bpm: float
    beat_confidence: float
    key: int
    mode: str
    key_confidence: float
    loudness_db: float
    spectral_centroid_mean: float
    spectral_centroid_std: float
    spectral_bandwidth_mean: float
    spectral_rolloff_mean: float
    zero_crossing_rate: float
    onset_rate: float
    energy: float
    danceability: float
    mfcc_mean: list[float] = field(default_factory=list)
    mfcc_std: list[float] = field(default_factory=list)
    chroma_mean: list[float] = field(default_factory=list)

    @property
    def key_name(self) -> str:
        return f"{PITCH_CLASSES[self.key]} {self.mode}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def supported_suffixes() -> frozenset[str]:
    """The suffixes this machine's libsndfile decodes (asked once per process)."""
    import soundfile

    available = soundfile.available_formats()
    return frozenset(suffix for suffix, name in FORMATS.items() if name in available)


_warmed = False


def warm_up() -> float:
    """Describe a few seconds of a synthetic tone, once per process, and return how long that
    took (0 after the first call). librosa loads its modules and numba compiles the beat tracker
    on first use: seconds that say nothing of the analysis's speed, so a batch spends them here,
    before its clock starts, and states them apart. Nothing of it is kept."""
    global _warmed
    if _warmed:
        return 0.0
    began = time.perf_counter()
    seconds = np.arange(int(MIN_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(0).normal(0.0, 0.05, seconds.shape)
    extract_features((0.3 * np.sin(2 * np.pi * 220 * seconds) + noise).astype(np.float32))
    _warmed = True
    return time.perf_counter() - began


def decode(data: bytes, suffix: str) -> Decoded:
    """Mono samples at SAMPLE_RATE from a file's bytes; :class:`AudioRejected` if there are
    none to analyse (unsupported, empty, undecodable, non-finite, too short, silent)."""
    import soundfile
    import soxr

    suffix = suffix.lower()
    if suffix not in supported_suffixes():
        raise AudioRejected("unsupported_format", f"{suffix or 'no suffix'} is not decoded here")
    if not data:
        raise AudioRejected("empty", "the object has no bytes")
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as file:
            rate, channels, frames = file.samplerate, file.channels, file.frames
            wanted = min(frames, int(MAX_SECONDS * rate)) if frames > 0 else -1
            samples = file.read(frames=wanted, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, EOFError) as error:  # LibsndfileError is a RuntimeError
        raise AudioRejected("undecodable", str(error) or type(error).__name__) from error
    if samples.size == 0:
        raise AudioRejected("empty", "the file decodes to no samples")
    # a file whose length is unknown up front is read whole, then cut
    mono = samples[: int(MAX_SECONDS * rate)].mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise AudioRejected("undecodable", "the samples hold NaN or infinity")
    duration = max(frames, len(samples)) / rate
    decoded_seconds = len(mono) / rate  # less than the header says if the file is truncated
    if decoded_seconds < MIN_SECONDS:
        raise AudioRejected("too_short", f"{decoded_seconds:.2f} s is under {MIN_SECONDS:g} s")
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return Decoded(mono, duration, rate, channels)


def analyse(data: bytes, suffix: str) -> tuple[Decoded, AudioFeatures]:
    """Decode and describe one file; :class:`AudioRejected` says why it cannot be described."""
    decoded = decode(data, suffix)
    return decoded, extract_features(decoded.samples, duration_seconds=decoded.duration_seconds)


def extract_features(y: np.ndarray, *, duration_seconds: float | None = None) -> AudioFeatures:
    """The feature set of mono samples at SAMPLE_RATE (see the module's docstring)."""
    import librosa

    analysed = len(y) / SAMPLE_RATE
    loudness = _dbfs(y)
    if loudness < SILENCE_DBFS:
        raise AudioRejected("silent", f"RMS {loudness:.1f} dBFS is under {SILENCE_DBFS:g} dBFS")

    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    power = magnitude**2
    # as librosa.feature.melspectrogram computes it, with the filter bank built once
    log_mel = librosa.power_to_db(np.einsum("...ft,mf->...mt", power, _mel_basis(), optimize=True))
    onset_envelope = librosa.onset.onset_strength(S=log_mel, sr=SAMPLE_RATE)
    # beat_track's own envelope takes the median over mel bands (steadier than the mean)
    beat_envelope = librosa.onset.onset_strength(S=log_mel, sr=SAMPLE_RATE, aggregate=np.median)
    tempo, beats = librosa.beat.beat_track(
        onset_envelope=beat_envelope, sr=SAMPLE_RATE, hop_length=HOP_LENGTH
    )
    tempo_bpm = float(np.atleast_1d(tempo)[0])
    onsets = librosa.onset.onset_detect(
        onset_envelope=onset_envelope, sr=SAMPLE_RATE, hop_length=HOP_LENGTH
    )
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)
    chroma = librosa.feature.chroma_stft(S=power, sr=SAMPLE_RATE, tuning=0.0)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=SAMPLE_RATE, n_fft=N_FFT)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=SAMPLE_RATE, n_fft=N_FFT)[0]
    rolloff = librosa.feature.spectral_rolloff(
        S=magnitude, sr=SAMPLE_RATE, n_fft=N_FFT, roll_percent=ROLL_PERCENT
    )[0]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH)[0]

    chroma_mean = chroma.mean(axis=1)
    key, mode, key_confidence = key_from_chroma(chroma_mean)
    beat_confidence = periodicity(beat_envelope, tempo_bpm)
    onset_rate = len(onsets) / analysed
    centroid_mean = float(centroid.mean())
    features = AudioFeatures(
        duration_seconds=round(duration_seconds if duration_seconds is not None else analysed, 3),
        analysed_seconds=round(analysed, 3),
        tempo_bpm=tempo_bpm,
        beat_confidence=beat_confidence,
        key=key,
        mode=mode,
        key_confidence=key_confidence,
        loudness_db=loudness,
        spectral_centroid_mean=centroid_mean,
        spectral_centroid_std=float(centroid.std()),
        spectral_bandwidth_mean=float(bandwidth.mean()),
        spectral_rolloff_mean=float(rolloff.mean()),
        zero_crossing_rate=float(zcr.mean()),
        onset_rate=onset_rate,
        energy=energy_score(loudness, onset_rate, centroid_mean),
        danceability=danceability_score(beat_confidence, tempo_bpm, beats),
        mfcc_mean=[float(v) for v in mfcc.mean(axis=1)],
        mfcc_std=[float(v) for v in mfcc.std(axis=1)],
        chroma_mean=[float(v) for v in chroma_mean],
    )
    bad = non_finite_fields(features)
    if bad:
        raise AudioRejected("non_finite_features", "NaN or infinity in " + ", ".join(bad))
    return features


def key_from_chroma(chroma_mean: np.ndarray) -> tuple[int, str, float]:
    """``(tonic, mode, r)``: the key profile, of the 24 rotations, that correlates best (r)."""
    best = (0, "major", -2.0)
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(chroma_mean, np.roll(profile, tonic))[0, 1])
            if r > best[2]:
                best = (tonic, mode, r)
    return best


def periodicity(onset_envelope: np.ndarray, tempo_bpm: float) -> float:
    """Beat confidence: the onset envelope's autocorrelation at one beat, over its energy
    (1 = every beat the same, 0 = no pulse at that tempo)."""
    if not tempo_bpm > 0:
        return 0.0
    centred = onset_envelope - onset_envelope.mean()
    energy = float(centred @ centred)
    lag = int(round(60.0 / tempo_bpm * SAMPLE_RATE / HOP_LENGTH))
    if energy <= 0 or not 0 < lag < len(centred):
        return 0.0
    r = float(centred[:-lag] @ centred[lag:]) / energy
    return float(np.clip(r, 0.0, 1.0))


def energy_score(loudness_db: float, onset_rate: float, centroid_hz: float) -> float:
    return float(
        np.mean(
            [
                _ramp(loudness_db, -40.0, -6.0),
                _ramp(onset_rate, 0.0, 8.0),
                _ramp(centroid_hz, 500.0, 4000.0),
            ]
        )
    )


def danceability_score(beat_confidence: float, tempo_bpm: float, beats: np.ndarray) -> float:
    tempo_fit = math.exp(-0.5 * (math.log2(tempo_bpm / 115.0) / 0.5) ** 2) if tempo_bpm > 0 else 0
    intervals = np.diff(beats)
    cv = float(intervals.std() / intervals.mean()) if len(intervals) > 1 else math.inf
    regularity = 1.0 / (1.0 + 10.0 * cv)
    return float(0.5 * beat_confidence + 0.25 * tempo_fit + 0.25 * regularity)


def non_finite_fields(features: AudioFeatures) -> list[str]:
    bad = []
    for name, value in features.as_dict().items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            bad.append(name)
    return bad


@cache
def _mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)


def _dbfs(y: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))
