"""The business code of the Spotify AI-agent back end: plain Python, no Airflow imports."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_dir", "resolve_project_path"]


def project_dir() -> Path:
    """The project root: ``$SPOTIFY_AGENT_HOME`` if set, else the folder that holds ``include/``.

    Relative paths in connections and variables (the SQLite warehouse, the local object store) are
    resolved against it, so one ``airflow_settings.yaml`` works on a laptop, in Astro and in Docker.
    """
    configured = os.environ.get("SPOTIFY_AGENT_HOME")
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parents[2]


def resolve_project_path(path: str | os.PathLike[str]) -> Path:
    """``path`` itself when absolute, else ``path`` under :func:`project_dir`."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else project_dir() / candidate
