"""Every text version in ``content_versions``, keyed by ``(subject_type, subject_id, sha256)``.

Storing a draft that exists already changes nothing (its status and review are kept), so a re-run
with the same facts drafts nothing new and asks nobody to review it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from spotify_agent.content.text import Draft
from spotify_agent.warehouse.schema import content_versions
from spotify_agent.warehouse.upsert import upsert


@dataclass(frozen=True)
class Version:
    subject_type: str
    subject_id: str
    content_sha256: str
    text: str
    status: str
    generator: str

    @property
    def key(self) -> dict[str, str]:
        return {
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "content_sha256": self.content_sha256,
        }


def store_draft(
    connection: Connection,
    draft: Draft,
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
    object_key: str | None = None,
) -> Version:
    """Store ``draft`` as a version unless that exact text exists; returns the stored version."""
    upsert(
        connection,
        content_versions,
        [
            {
                "subject_type": draft.subject_type,
                "subject_id": draft.subject_id,
                "content_sha256": draft.sha256,
                "text": draft.text,
                "sentences": draft.sentences_json(),
                "generator": draft.generator,
                "period": draft.period,
                "status": "drafted",
                "object_key": object_key,
                "drafted_by_run": run_id,
                "trace_id": trace_id,
                "drafted_at": at,
            }
        ],
        key=("subject_type", "subject_id", "content_sha256"),
        update=[],
    )
    found = get_version(connection, draft.subject_type, draft.subject_id, draft.sha256)
    if found is None:  # pragma: no cover - the row was just written
        raise LookupError(f"{draft.subject_type}/{draft.subject_id}: version not stored")
    return found


def get_version(
    connection: Connection, subject_type: str, subject_id: str, content_sha256: str
) -> Version | None:
    row = (
        connection.execute(
            select(content_versions).where(
                content_versions.c.subject_type == subject_type,
                content_versions.c.subject_id == subject_id,
                content_versions.c.content_sha256 == content_sha256,
            )
        )
        .mappings()
        .first()
    )
    return _version(row) if row is not None else None


def _version(row: Any) -> Version:
    return Version(
        subject_type=row["subject_type"],
        subject_id=row["subject_id"],
        content_sha256=row["content_sha256"],
        text=row["text"],
        status=row["status"],
        generator=row["generator"],
    )


def set_status(
    connection: Connection,
    keys: Sequence[dict[str, str]],
    status: str,
    *,
    at: datetime,
    reviewed_by: str | None = None,
) -> int:
    """Move versions to ``approved`` / ``rejected`` (with the reviewer) or ``published``."""
    changed = 0
    for key in keys:
        values: dict[str, Any] = {"status": status}
        if status in ("approved", "rejected"):
            values.update(reviewed_by=reviewed_by, reviewed_at=at)
        if status == "published":
            values["published_at"] = at
        result = connection.execute(
            update(content_versions)
            .where(
                content_versions.c.subject_type == key["subject_type"],
                content_versions.c.subject_id == key["subject_id"],
                content_versions.c.content_sha256 == key["content_sha256"],
            )
            .values(**values)
        )
        changed += int(result.rowcount or 0)
    return changed
