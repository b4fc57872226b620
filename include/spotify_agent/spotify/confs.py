"""Run-conf models of the Spotify DAGs.

Kept apart from the code that does the work so that a DAG file, which needs these to build its
Params, imports only pydantic and the id pattern at parse time (see bench/parse_time.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spotify_agent.core.run_conf import RunConf
from spotify_agent.spotify.ids import SpotifyId

Source = Literal["recently_played", "landing_files"]
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

    sources: list[Source] = Field(
        default_factory=lambda: list(ALL_SOURCES),
        min_length=1,
        description="Where to read events from: users' recently-played histories, landed files, or both.",
    )
    spotify_conn_ids: list[str] = Field(
        default_factory=lambda: ["spotify_default"],
        description="Spotify connections whose user (refresh token) to read recently-played for.",
        json_schema_extra={"items": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,250}$"}},
    )
