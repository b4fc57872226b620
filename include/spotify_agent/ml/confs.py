"""Run conf of the AI/ML DAGs (light on purpose: DAG files import these for their Params)."""

from __future__ import annotations

from pydantic import Field, model_validator

from spotify_agent.core.run_conf import RunConf, UpToToday
from spotify_agent.spotify.ids import SpotifyId


class ModelTrainingConf(RunConf):
    """Run conf of the ``model_training`` DAG."""

    until: UpToToday = Field(
        default=None,
        description=(
            "Train on plays before this UTC day (YYYY-MM-DD, not included). Default: the day "
            "the run's data interval ends in (a scheduled Monday run: that Monday; a manual "
            "run: today), so every run of one day trains on the same plays."
        ),
    )
    window_days: int = Field(
        default=90, ge=7, le=730, description="Days of listening the model learns from."
    )
    holdout_days: int = Field(
        default=7,
        ge=1,
        le=60,
        description=(
            "The window's last days are the hold-out: the tracks each user first played then "
            "are what every candidate is judged on."
        ),
    )
    l2: float = Field(
        default=2.5,
        ge=0.01,
        le=1000.0,
        description="Ours (EASE): ridge penalty of the item-item weights.",
    )
    popularity_penalty: float = Field(
        default=0.25,
        ge=0.0,
        le=2.0,
        description="Ours: scores are divided by (track listeners) to this power.",
    )
    min_listeners: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Ours: tracks with fewer listeners are not modelled.",
    )
    max_items: int = Field(
        default=10_000,
        ge=10,
        le=20_000,
        description="Ours: the most-listened tracks modelled (the fit is cubic in it).",
    )
    als_factors: int = Field(default=64, ge=2, le=512, description="The ALS baseline's factors.")
    als_iterations: int = Field(
        default=15, ge=1, le=100, description="The ALS baseline's iterations (epochs)."
    )
    seed: int = Field(
        default=0, ge=0, le=2**31 - 1, description="Random seed (ALS's start; ours has none)."
    )

    @model_validator(mode="after")
    def _holdout_inside_window(self) -> ModelTrainingConf:
        if self.holdout_days >= self.window_days:
            raise ValueError(
                f"holdout_days ({self.holdout_days}) must be shorter than window_days "
                f"({self.window_days})"
            )
        return self


class RecommendationUpdateConf(RunConf):
    """Run conf of the ``recommendation_update`` DAG."""

    day: UpToToday = Field(
        default=None,
        description=(
            "The day the set is for (YYYY-MM-DD; its version in Redis). Default: the run's end "
            "(a manual run: today). Plays before it are the listeners' histories."
        ),
    )
    k: int = Field(default=20, ge=1, le=100, description="Tracks recommended to each listener.")
    active_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Listeners who played something in these last days get recommendations.",
    )
    history_days: int = Field(
        default=90,
        ge=1,
        le=730,
        description="Days of a listener's plays the model reads (and never recommends again).",
    )

    @model_validator(mode="after")
    def _active_inside_history(self) -> RecommendationUpdateConf:
        if self.active_days > self.history_days:
            raise ValueError(
                f"active_days ({self.active_days}) must not exceed history_days "
                f"({self.history_days})"
            )
        return self


class AudioAnalysisConf(RunConf):
    """Run conf of the ``audio_analysis`` DAG."""

    track_ids: list[SpotifyId] = Field(
        default_factory=list,
        max_length=1000,
        description=(
            "Only these Spotify track ids (22 characters, base62). Default: every track whose "
            "audio is in the store without features of the current extractor version."
        ),
    )
    reanalyse: bool = Field(
        default=False,
        description=(
            "Analyse the chosen tracks again even if their features are current (the rows are "
            "replaced; quarantined audio is tried again too)."
        ),
    )
    max_tracks: int = Field(
        default=5000,
        ge=1,
        le=100_000,
        description="At most this many tracks per run (the rest wait for the next run).",
    )
    batch_size: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Tracks per mapped task (about 0.1 s of one core per 30 s of audio).",
    )
