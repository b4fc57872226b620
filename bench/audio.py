"""Audio feature extraction: ours against the naive way, on synthetic clips of known tempo and key.

The clips (``spotify_agent.ml.audio.synthetic``: drums, bass and chords; tempos 72-176 BPM, every
mode, twelve keys) are written as 16-bit WAV at 44.1 kHz, the rate of most real audio, so both
ways decode and resample. Both run on one thread (BLAS pinned with threadpoolctl) after an
untimed clip (numba compiles librosa's beat tracker on first use):

* ours: ``analyse(bytes, suffix)``: decode, one STFT shared by every feature;
* naive: ``librosa.load`` then each librosa feature function on the samples, each computing its
  own spectrogram (the same parameters, so the same numbers: the run checks every feature they share agrees).

Targets: ours >= 150x real time on one core, >= 1.5x the naive way's throughput, and every
clip's tempo within 4% of the true one or of its half or double (octave errors are counted
apart: librosa's tempo prior prefers 80-160 BPM).

    python bench/audio.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from verdicts import exit_code, ratio_verdict

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR / "include")]

FILE_RATE = 44100
CLIP_SECONDS = 30.0
# (tempo, mode): one clip each, the key walking round the circle of fifths
CLIPS = (
    (72, "major"),
    (85, "minor"),
    (96, "major"),
    (104, "minor"),
    (118, "major"),
    (128, "minor"),
    (140, "major"),
    (150, "minor"),
    (165, "major"),
    (176, "minor"),
    (92, "major"),
    (110, "minor"),
)
MIN_REALTIME, MIN_VS_NAIVE, MIN_TEMPO_SHARE = 150, 1.5, 1


def write_clips(folder: Path, count: int) -> list[tuple[Path, object]]:
    import soundfile

    from spotify_agent.ml.audio.synthetic import ClipSpec, synth_clip

    clips = []
    for index, (tempo, mode) in enumerate(CLIPS[:count]):
        spec = ClipSpec(
            tempo, (index * 7) % 12, mode, CLIP_SECONDS, sample_rate=FILE_RATE, seed=index
        )
        path = folder / f"clip{index:02d}.wav"
        soundfile.write(path, synth_clip(spec), FILE_RATE, subtype="PCM_16")
        clips.append((path, spec))
    return clips


def ours(path: Path) -> dict[str, float]:
    from spotify_agent.ml.audio.features import analyse

    _, f = analyse(path.read_bytes(), path.suffix)
    return {
        "tempo": f.tempo_bpm,
        "key": f.key,
        "mode": f.mode,
        "onset_rate": f.onset_rate,
        "centroid": f.spectral_centroid_mean,
        "bandwidth": f.spectral_bandwidth_mean,
        "rolloff": f.spectral_rolloff_mean,
        "zcr": f.zero_crossing_rate,
        "mfcc": f.mfcc_mean,
        "chroma": f.chroma_mean,
    }


def naive(path: Path) -> dict[str, float]:
    """Every feature function on the samples, as a first version would write it."""
    import librosa

    from spotify_agent.ml.audio import features as f

    y, sr = librosa.load(path, sr=f.SAMPLE_RATE, mono=True, duration=f.MAX_SECONDS)
    frames = {"n_fft": f.N_FFT, "hop_length": f.HOP_LENGTH}
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr, hop_length=f.HOP_LENGTH)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=f.HOP_LENGTH)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=f.N_MFCC, n_mels=f.N_MELS, **frames)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0, **frames)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, **frames)
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr, **frames)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr, roll_percent=f.ROLL_PERCENT, **frames)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=f.N_FFT, hop_length=f.HOP_LENGTH)
    chroma_mean = chroma.mean(axis=1)
    key, mode, _ = f.key_from_chroma(chroma_mean)
    return {
        "tempo": float(tempo[0]),
        "key": key,
        "mode": mode,
        "onset_rate": len(onsets) / (len(y) / sr),
        "centroid": float(centroid.mean()),
        "bandwidth": float(bandwidth.mean()),
        "rolloff": float(rolloff.mean()),
        "zcr": float(zcr.mean()),
        "mfcc": [float(v) for v in mfcc.mean(axis=1)],
        "chroma": [float(v) for v in chroma_mean],
    }


def timed(way, paths: list[Path], repeats: int) -> tuple[list[dict[str, float]], float]:
    """The results and the median wall seconds of one pass over every clip."""
    way(paths[0])  # untimed: numba compiles, caches fill
    passes, results = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        results = [way(path) for path in paths]
        passes.append(time.perf_counter() - began)
    return results, statistics.median(passes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="six clips, one pass (CI)")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    count = 6 if args.quick else len(CLIPS)
    repeats = args.repeats or (1 if args.quick else 3)

    from threadpoolctl import threadpool_limits

    from spotify_agent.ml.audio.features import PITCH_CLASSES

    with tempfile.TemporaryDirectory() as folder, threadpool_limits(limits=1):
        clips = write_clips(Path(folder), count)
        paths = [path for path, _ in clips]
        naive_results, naive_seconds = timed(naive, paths, repeats)
        our_results, our_seconds = timed(ours, paths, repeats)

    audio_seconds = count * CLIP_SECONDS
    print(
        f"Audio features of {count} synthetic clips ({CLIP_SECONDS:g} s each, 16-bit WAV at "
        f"{FILE_RATE} Hz), one thread, median of {repeats} pass(es)"
    )
    print(f"{'clip':<22} {'tempo':>6} {'ours':>7} {'naive':>7}  {'key':<9} {'ours':<9} agree")
    exact = octave = keys = 0
    disagreements = []
    for (path, spec), mine, theirs in zip(clips, our_results, naive_results, strict=True):
        error = abs(mine["tempo"] - spec.tempo_bpm) / spec.tempo_bpm
        octave_error = min(
            abs(mine["tempo"] - spec.tempo_bpm * m) / (spec.tempo_bpm * m) for m in (0.5, 2.0)
        )
        exact += error <= 0.04
        octave += error > 0.04 and octave_error <= 0.04
        found = f"{PITCH_CLASSES[mine['key']]} {mine['mode']}"
        keys += found == spec.key_name
        agree = _agree(mine, theirs)
        if not agree:
            disagreements.append(path.name)
        print(
            f"{path.name:<22} {spec.tempo_bpm:>6.0f} {mine['tempo']:>7.1f} {theirs['tempo']:>7.1f}"
            f"  {spec.key_name:<9} {found:<9} {'yes' if agree else 'NO'}"
        )
    print(
        f"tempo within 4%: {exact}/{count} at the true tempo, {octave}/{count} at half or double;"
        f" key and mode right: {keys}/{count}"
    )
    print(f"ours {our_seconds:.2f} s, naive {naive_seconds:.2f} s for {audio_seconds:g} s of audio")
    if disagreements:
        print("ours and the naive way disagree on: " + ", ".join(disagreements))

    ours_rate, naive_rate = audio_seconds / our_seconds, audio_seconds / naive_seconds
    verdicts = [
        _verdict("realtime_x_one_core", ours_rate, "real time", 1.0, MIN_REALTIME, "{:.0f}"),
        _verdict(
            "audio_s_per_s",
            ours_rate,
            "naive: a spectrogram per librosa feature",
            naive_rate,
            MIN_VS_NAIVE,
            "{:.0f}",
        ),
        _verdict(
            "tempo_within_4pct_or_octave",
            (exact + octave) / count,
            "every clip",
            1.0,
            MIN_TEMPO_SHARE,
            "{:.2f}",
        ),
    ]
    print()
    print("\n".join(verdicts))
    return 1 if disagreements else exit_code(verdicts)


def _agree(a: dict, b: dict) -> bool:
    """Same key and mode, every number (vectors element by element) equal to float32 precision."""
    if (a["key"], a["mode"]) != (b["key"], b["mode"]):
        return False
    pairs = [
        pair
        for name in a
        if name not in ("key", "mode")
        for pair in (
            zip(a[name], b[name], strict=True)
            if isinstance(a[name], list)
            else [(a[name], b[name])]
        )
    ]
    return all(abs(x - y) <= 1e-3 * max(1.0, abs(y)) for x, y in pairs)


def _verdict(metric: str, ours: float, name: str, base: float, target: float, fmt: str) -> str:
    return ratio_verdict("audio", metric, ours, name, base, op=">=", target=target, fmt=fmt)


if __name__ == "__main__":
    sys.exit(main())
