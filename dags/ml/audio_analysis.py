"""
### audio_analysis

Describes every track whose audio is in the object store: tempo, key, loudness, timbre and the
derived energy and danceability (Spotify no longer gives new apps its audio features).

* **Input**: objects under `audio/` named by the Spotify track id, `audio/<track id>.<suffix>`
  (wav, flac, ogg, mp3, in any case: `.WAV` too; sub-folders allowed). A track with several
  files is analysed from the lossless one; when that file is bad (quarantined now or before),
  its next format is analysed instead, in the same batch: a bad file never hides a good one.
* **Picks** tracks with no features of the current extractor version made from that same file
  (size and ETag or modification time): new audio, replaced audio, and every track again when
  the feature set or librosa changes. `track_ids` narrows the run; `reanalyse` recomputes even
  current features. At most `max_tracks` per run.
* **Fans out** in mapped batches of `batch_size` tracks, each on one thread (about 300x real
  time on a core: `bench/audio.py`).
* **Writes** `track_audio_features`, one row per (track, extractor version): duration, tempo and
  beat confidence, key, mode and key confidence, loudness, spectral centroid/bandwidth/rolloff,
  zero-crossing rate, onset rate, MFCC and chroma statistics, energy, danceability.
* **Quarantines** (with the reason, never the audio) files that cannot be described:
  `unsupported_format`, `too_large` (over 512 MiB), `empty`, `undecodable`, `too_short` (under
  5 s of audio), `silent` (under -60 dBFS), `non_finite_features`, `not_a_track_id`. A
  quarantined file is not tried again until it is replaced (or `reanalyse`), except
  `analysis_failed` (an error of ours), tried on every run. A file that cannot be read fails its
  batch after the rest is written, and the retry reads it again. When a file that had features
  is replaced by a bad one, its features are withdrawn (deleted; `features_withdrawn` counts
  them), so the old file's values never pass for the current ones.

A re-run finds nothing to do; a retried batch writes the same rows.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.ml.confs import AudioAnalysisConf
from spotify_agent_airflow.assets import AUDIO_FEATURES
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.audio_analysis import (
    AnalyseAudioBatchOperator,
    PlanAudioBatchesOperator,
)
from spotify_agent_airflow.operators.common import SummariseOperator


@dag(
    schedule="0 1 * * *",  # 01:00 UTC: the day's uploads are in, before the ML jobs at 03:00
    **dag_args(
        AudioAnalysisConf, deadline=timedelta(hours=4), execution_timeout=timedelta(hours=1)
    ),
    tags=["ml"],
    doc_md=__doc__,
)
def audio_analysis() -> None:
    batches = PlanAudioBatchesOperator(task_id="plan_batches")
    analysed = AnalyseAudioBatchOperator.partial(task_id="analyse_batch").expand(
        objects=batches.output
    )
    SummariseOperator(task_id="summarise", results=analysed.output, outlets=[AUDIO_FEATURES])


audio_analysis()
