"""Small helpers for object-store paths (``pathlib.Path`` or Airflow's ``ObjectStoragePath``)."""

from __future__ import annotations

from typing import Any

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


def is_local(path: Any) -> bool:
    return getattr(path, "protocol", "") in LOCAL_PROTOCOLS


def ensure_parent(path: Any) -> None:
    """Create the folder above ``path`` on a local store.

    Object stores have no folders; on S3, mkdir could even create a missing bucket and hide a
    misconfiguration, so it is only done locally.
    """
    if is_local(path):
        path.parent.mkdir(parents=True, exist_ok=True)
