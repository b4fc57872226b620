"""Where the team's shared real material lives (never copied into the repository: licences)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$SPOTIFY_AGENT_SHARED_DATA``, else ``../shared/data`` next to the project, else ``/work/shared/data``."""
    candidates = [
        os.environ.get("SPOTIFY_AGENT_SHARED_DATA"),
        str(PROJECT_DIR.parent / "shared" / "data"),
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "spotify-web-api").is_dir():
            return Path(candidate)
    pytest.fail(
        "the shared data folder (spotify-web-api, lastfm-hetrec2011-2k) was not found; "
        "set SPOTIFY_AGENT_SHARED_DATA to it",
        pytrace=False,
    )
