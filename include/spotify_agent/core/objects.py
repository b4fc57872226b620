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


def relative_key(path: Any, base: Any) -> str:
    """``path``'s key below ``base``, as ``a/b.txt``, on any store.

    ``ObjectStoragePath.relative_to`` fails on S3 ("fsspec paths can not be relative"), so the
    key is cut from the paths' text; both must come from the same store.
    """
    full, prefix = _text(path), _text(base).rstrip("/") + "/"
    if not full.startswith(prefix):
        raise ValueError(f"{full} is not below {prefix}")
    return full[len(prefix) :]


def _text(path: Any) -> str:
    # ObjectStoragePath and UPath keep the store path (bucket/key, or a local path) in .path.
    return str(getattr(path, "path", path))
