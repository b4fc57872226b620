"""Run conf of ``content_generation`` (light: the DAG file imports it to build its Params)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spotify_agent.core.run_conf import ConnId, RunConf, all_by_default
from spotify_agent.spotify.ids import SpotifyId

ContentKind = Literal["playlist_descriptions", "artist_digest"]
ALL_KINDS: tuple[ContentKind, ...] = ("playlist_descriptions", "artist_digest")


class ContentGenerationConf(RunConf):
    """Run conf of the ``content_generation`` DAG."""

    kinds: list[ContentKind] = all_by_default(
        ALL_KINDS,
        description="What to write: descriptions of the managed playlists, the weekly artist digest.",
    )
    playlist_ids: list[SpotifyId] = Field(
        default_factory=list,
        max_length=500,
        description="Describe only these managed playlists (default: every managed playlist).",
    )
    require_approval: bool = Field(
        default=True,
        description=(
            "Ask a person (Airflow's Required Actions) before publishing descriptions to Spotify. "
            "Off only for trusted, template-only setups such as the demo."
        ),
    )
    llm_conn_id: ConnId | None = Field(
        default=None,
        description=(
            "HTTP connection of an OpenAI-compatible chat-completions endpoint that may rewrite "
            "the texts (checked against the facts). Empty: the `content_llm_conn_id` variable, "
            "else templates only."
        ),
    )
