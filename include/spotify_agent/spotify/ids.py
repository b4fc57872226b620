"""Spotify ids: 22 base62 characters. Light on purpose: DAG files import it for their Params."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

SPOTIFY_ID_PATTERN = r"^[0-9A-Za-z]{22}$"
SpotifyId = Annotated[str, StringConstraints(pattern=SPOTIFY_ID_PATTERN)]
