"""The object store root: a local folder in the demo, S3 (or any fsspec store) in production."""

from __future__ import annotations

from airflow.sdk import ObjectStoragePath, Variable

from spotify_agent import resolve_project_path

OBJECT_STORE_URL_VARIABLE = "object_store_url"
OBJECT_STORE_CONN_VARIABLE = "object_store_conn_id"
DEFAULT_OBJECT_STORE_URL = "var/objects"


def object_store_root() -> ObjectStoragePath:
    """Root from the ``object_store_url`` variable.

    ``s3://bucket/prefix`` uses the connection named by ``object_store_conn_id`` (``aws_default``);
    a plain path is a local folder, relative to the project.
    """
    url = str(Variable.get(OBJECT_STORE_URL_VARIABLE, default=DEFAULT_OBJECT_STORE_URL))
    conn_id = str(Variable.get(OBJECT_STORE_CONN_VARIABLE, default="aws_default"))
    return root_for(url, conn_id)


def root_for(url: str, conn_id: str) -> ObjectStoragePath:
    """The root for a store URL (a plain path is a local folder under the project)."""
    if "://" not in url or url.startswith("file://"):
        folder = resolve_project_path(url.removeprefix("file://"))
        folder.mkdir(parents=True, exist_ok=True)
        return ObjectStoragePath(f"file://{folder}")
    return ObjectStoragePath(url, conn_id=conn_id)
