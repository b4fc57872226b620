"""Run-conf models of the Spotify DAGs.

Kept apart from the code that does the work so that a DAG file, which needs these to build its
Params, imports only pydantic and the id pattern at parse time (see bench/parse_time.py).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spotify_agent.core.run_conf import (
    CONN_ID_PATTERN,
    ConnId,
    FinishedDay,
    RunConf,
    all_by_default,
)
from spotify_agent.spotify.ids import SpotifyId

Source = Literal["recently_played", "landing_files"]
PlaylistRule = Literal["most_played", "track_list"]
ALL_SOURCES: tuple[Source, ...] = ("recently_played", "landing_files")


class ArtistMonitoringConf(RunConf):
    """Run conf of the ``artist_monitoring`` DAG."""

    add_artist_ids: list[SpotifyId] = Field(
        default_factory=list,
        max_length=500,
        description=(
            "Spotify artist ids (22 characters, base62) to add to the watch list; "
            "they are snapshotted in this run and every run after it."
        ),
    )
    follower_jump_pct: float = Field(
        default=10.0,
        gt=0,
        le=1000,
        description="Report a follower change of at least this many percent.",
    )
    popularity_jump: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Report a popularity change of at least this many points.",
    )


class ListeningIngestConf(RunConf):
    """Run conf of the ``listening_ingest`` DAG."""

    sources: list[Source] = all_by_default(
        ALL_SOURCES,
        description="Where to read events from: users' recently-played histories, landed files, or both.",
    )
    spotify_conn_ids: list[str] = Field(
        default_factory=lambda: ["spotify_default"],
        description="Spotify connections whose user (refresh token) to read recently-played for.",
        json_schema_extra={"items": {"type": "string", "pattern": CONN_ID_PATTERN}},
    )
    catalogue_conn_id: ConnId = Field(
        default="spotify_default",
        description=(
            "Spotify connection (its app's client credentials and tier) that looks up the "
            "tracks a landed file's plays name and the catalogue lacks; read only when there "
            "are such tracks."
        ),
    )
    look_up_tracks: bool = Field(
        default=True,
        description=(
            "Look up the tracks a landed file's plays name and the catalogue lacks. Off: "
            "nothing is asked, and their plays wait, set aside by the aggregation."
        ),
    )


class ListeningDaysConf(RunConf):
    """Run conf of the ``listening_days`` DAG."""

    day: FinishedDay = Field(
        default=None,
        description=(
            "Under airflow dags test or a trigger without a partition key: the UTC day "
            "(YYYY-MM-DD) to announce again. A run with a partition key announces that day."
        ),
    )


class ManagedPlaylistSpec(BaseModel):
    """One playlist ``playlist_update`` keeps equal to a target track list."""

    # The JSON schema repeats the cross-field rule so the trigger form and REST API refuse it too.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "if": {"properties": {"rule": {"const": "track_list"}}, "required": ["rule"]},
            "then": {"required": ["track_ids"], "properties": {"track_ids": {"minItems": 1}}},
            "else": {"properties": {"track_ids": {"maxItems": 0}}},
        },
    )

    playlist_id: SpotifyId = Field(
        description="Spotify playlist id (22 characters); the connection's user must own it."
    )
    rule: PlaylistRule = Field(
        default="most_played",
        description=(
            "most_played: the `size` most played tracks of `listening_events` over the last "
            "`window_days` days; track_list: exactly `track_ids`, in that order."
        ),
    )
    size: int = Field(default=50, ge=1, le=1000, description="Tracks in a most_played playlist.")
    window_days: int = Field(
        default=28, ge=1, le=366, description="Days of listening a most_played playlist counts."
    )
    track_ids: list[SpotifyId] = Field(
        default_factory=list,
        max_length=10_000,
        description="The tracks of a track_list playlist, in order (empty for most_played).",
    )
    spotify_conn_id: ConnId = Field(
        default="spotify_default",
        description="Spotify connection whose user (refresh token) owns the playlist.",
    )

    @model_validator(mode="after")
    def _tracks_match_rule(self) -> Self:
        if self.rule == "track_list" and not self.track_ids:
            raise ValueError("track_ids: a track_list playlist needs at least one track id")
        if self.rule != "track_list" and self.track_ids:
            raise ValueError(f"track_ids: only a track_list playlist takes them, not {self.rule}")
        return self


class PlaylistUpdateConf(RunConf):
    """Run conf of the ``playlist_update`` DAG."""

    playlist_ids: list[SpotifyId] = Field(
        default_factory=list,
        max_length=500,
        description="Sync only these managed playlists (default: every managed playlist).",
    )
    manage: list[ManagedPlaylistSpec] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Playlists to start managing, or whose rule to change, before the sync: objects "
            "with playlist_id, rule, size, window_days, track_ids, spotify_conn_id. For example "
            '[{"playlist_id": "37i9dQZF1DXcBWIGoYBM5M", "rule": "most_played", "size": 30}]'
        ),
    )
    unmanage_playlist_ids: list[SpotifyId] = Field(
        default_factory=list,
        max_length=500,
        description="Playlists to stop managing (left as they are on Spotify).",
    )

    @model_validator(mode="after")
    def _no_contradiction(self) -> Self:
        both = {spec.playlist_id for spec in self.manage} & set(self.unmanage_playlist_ids)
        if both:
            raise ValueError(f"unmanage_playlist_ids: also in manage: {', '.join(sorted(both))}")
        return self
