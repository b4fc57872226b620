"""Spotify ids: 22 base62 characters. Light on purpose: DAG files import it for their Params."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

SPOTIFY_ID_PATTERN = r"^[0-9A-Za-z]{22}$"
SpotifyId = Annotated[str, StringConstraints(pattern=SPOTIFY_ID_PATTERN)]

# User ids are base62 for new accounts; older ones are usernames with dots, dashes, underscores.
USER_ID_CHARACTERS = "A-Za-z0-9._-"
USER_ID_PATTERN = rf"^[{USER_ID_CHARACTERS}]{{1,128}}$"
UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
