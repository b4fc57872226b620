"""Music-like audio with a known tempo, key and mode: the answers the feature tests check.

A clip is a drum kit (kick on every beat, snare on two and four, hi-hat on the eighths), a bass
line and sustained chords of a progression in the key (major: I V vi IV; minor: i VI iv V with
the raised leading tone). Everything is numpy and seeded: the same spec gives the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Chords as (root offset from the tonic, intervals of the chord) per bar.
_PROGRESSIONS = {
    "major": ((0, (0, 4, 7)), (7, (0, 4, 7)), (9, (0, 3, 7)), (5, (0, 4, 7))),
    "minor": ((0, (0, 3, 7)), (8, (0, 4, 7)), (5, (0, 3, 7)), (7, (0, 4, 7))),
}


@dataclass(frozen=True)
class ClipSpec:
    tempo_bpm: float
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"
    seconds: float = 30.0
    sample_rate: int = 22050
    seed: int = 0
    drums: bool = True  # without them: sustained chords and bass, no pulse to dance to
    gain_db: float = -0.9  # peak level

    @property
    def key_name(self) -> str:
        return f"{PITCH_CLASSES[self.tonic]} {self.mode}"


def synth_clip(spec: ClipSpec) -> np.ndarray:
    """Mono float32 samples in [-1, 1] for ``spec``."""
    if spec.mode not in _PROGRESSIONS:
        raise ValueError(f"mode must be major or minor, not {spec.mode!r}")
    rng = np.random.default_rng(spec.seed)
    sr = spec.sample_rate
    out = np.zeros(int(spec.seconds * sr), dtype=np.float64)
    beat = 60.0 / spec.tempo_bpm

    kick = _kick(sr)
    snare = _noise_hit(rng, sr, seconds=0.15, decay=0.05, brightness=0.5) * 0.35
    hat = _noise_hit(rng, sr, seconds=0.05, decay=0.012, brightness=1.0) * 0.12
    for n in range(int(spec.seconds / beat) + 1 if spec.drums else 0):
        at = n * beat
        _add(out, kick * 0.8, at, sr)
        if n % 4 in (1, 3):
            _add(out, snare, at, sr)
        for eighth in (0.0, 0.5):
            _add(out, hat * rng.uniform(0.8, 1.2), at + eighth * beat, sr)

    bar = 4 * beat
    progression = _PROGRESSIONS[spec.mode]
    for n in range(int(spec.seconds / bar) + 1):
        root, intervals = progression[n % len(progression)]
        root_pc = (spec.tonic + root) % 12
        chord_notes = [60 + ((root_pc + i) % 12) for i in intervals]
        for note in chord_notes:
            _add(out, _tone(_hz(note), bar * 0.95, sr, decay=bar) * 0.12, n * bar, sr)
        for half in (0, 2):  # the bass plays the root on beats one and three
            _add(
                out,
                _tone(_hz(36 + root_pc), beat * 1.5, sr, decay=0.6) * 0.3,
                n * bar + half * beat,
                sr,
            )

    out += rng.normal(0.0, 0.002, out.shape)  # a little room noise: real audio is never clean
    peak = float(np.max(np.abs(out)))
    gain: float = 10 ** (spec.gain_db / 20)
    return np.asarray(out * (gain / peak), dtype=np.float32)


def _hz(midi_note: int) -> float:
    return float(440.0 * 2.0 ** ((midi_note - 69) / 12))


def _tone(hz: float, seconds: float, sr: int, *, decay: float) -> np.ndarray:
    """A note with three harmonics, a 10 ms attack and an exponential decay."""
    t = np.arange(int(seconds * sr)) / sr
    wave = sum(
        amplitude * np.sin(2 * np.pi * hz * k * t)
        for k, amplitude in ((1, 1.0), (2, 0.4), (3, 0.15))
    )
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / decay)
    release = np.minimum((seconds - t) / 0.02, 1.0)  # no click at the end
    return wave * envelope * release


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    frequency = 50.0 + 90.0 * np.exp(-t / 0.03)  # the pitch drop of a kick drum
    phase = 2 * np.pi * np.cumsum(frequency) / sr
    return np.sin(phase) * np.exp(-t / 0.08)


def _noise_hit(
    rng: np.random.Generator, sr: int, *, seconds: float, decay: float, brightness: float
) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = rng.normal(0.0, 1.0, t.shape)
    bright = np.diff(noise, prepend=0.0)  # a first difference tilts the noise to the treble
    return ((1 - brightness) * noise + brightness * bright) * np.exp(-t / decay)


def _add(out: np.ndarray, sound: np.ndarray, at_seconds: float, sr: int) -> None:
    start = int(round(at_seconds * sr))
    if start >= len(out):
        return
    end = min(len(out), start + len(sound))
    out[start:end] += sound[: end - start]


def demo_library(track_ids: list[str], *, seconds: float = 30.0) -> dict[str, bytes]:
    """``audio/<track id>.flac`` objects of music for ``track_ids`` (tempos 80-160 BPM, every
    key and both modes), and one silent file for the last id: what ``make demo`` analyses."""
    import io

    import soundfile

    objects: dict[str, bytes] = {}
    for index, track_id in enumerate(track_ids):
        buffer = io.BytesIO()
        if index == len(track_ids) - 1:
            samples = np.zeros(int(seconds * 22050), dtype=np.float32)  # quarantined as silent
        else:
            spec = ClipSpec(
                tempo_bpm=80 + (index * 37) % 81,
                tonic=(index * 7) % 12,
                mode=("major", "minor")[index % 2],
                seconds=seconds,
                seed=index,
                drums=index % 5 != 4,
            )
            samples = synth_clip(spec)
        soundfile.write(buffer, samples, 22050, format="FLAC")
        objects[f"audio/{track_id}.flac"] = buffer.getvalue()
    return objects
