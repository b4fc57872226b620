"""Which landed objects ``listening_ingest`` may read: event files inside ``landing/listening/``.

Names match case-insensitively (``events.JSONL`` and ``events.Parquet`` are event files). A key
with ``.``, ``..`` or empty segments, a symbolic link (even one pointing inside the landing
folder) and a file whose real path lies outside the landing folder are refused, never read: the
landing folder is written by others, and a link could make the ingest read (and quarantine, so
copy into the warehouse) any file the worker can see. Object stores have no links; on them only
the key is checked.
"""

from __future__ import annotations

import os
from typing import Any

from spotify_agent.core.objects import is_local

LANDING_PREFIX = "landing/listening"
EVENT_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


def is_event_file(name: str) -> bool:
    return name.lower().endswith(EVENT_FILE_SUFFIXES)


def is_parquet(key: str) -> bool:
    return key.lower().endswith(".parquet")


def refusal(root: Any, key: str, *, prefix: str = LANDING_PREFIX) -> str | None:
    """Why the object ``key`` (relative to the store's ``root``) must not be read, or None.

    ``root`` is a ``pathlib.Path`` or an ``ObjectStoragePath``; only local stores are checked
    for links (``os.path``, since fsspec reports a dangling link as "not a symlink").
    """
    relative = key.removeprefix(prefix.rstrip("/") + "/")
    parts = relative.split("/")
    if relative == key or any(part in ("", ".", "..") for part in parts) or "\\" in relative:
        return f"the key is not a plain path under {prefix}/: not read"
    if not is_local(root):
        return None
    path, landing = _local(root / key), _local(root / prefix)
    if os.path.islink(path):
        return "a symbolic link, not a file: not read"
    real, real_landing = os.path.realpath(path), os.path.realpath(landing)
    if os.path.commonpath([real, real_landing]) != real_landing:
        return f"resolves outside {prefix}/ (through a linked folder): not read"
    return None


def _local(path: Any) -> str:
    # ObjectStoragePath on file:// keeps its local path in .path; pathlib.Path is its own.
    return str(path.path) if hasattr(path, "fs") else os.fspath(path)
