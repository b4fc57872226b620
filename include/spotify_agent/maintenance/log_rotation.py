"""The ``log_rotation`` job's task logs: gzip the old logs under a folder, archive them in the
object store under ``logs/airflow/<same path>.gz``, free the local disk
(:func:`spotify_agent.maintenance.logs.rotate_logs`) and audit what was freed.

Idempotent: every step checks what is already there, so a re-run, or a run after a crash, does
only what is left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from spotify_agent.core.audit import Attempt
from spotify_agent.core.numbers import counted, format_number, size_text
from spotify_agent.maintenance.confs import LogRotationConf
from spotify_agent.maintenance.logs import rotate_logs

log = logging.getLogger(__name__)

# Where in the object store the archives go, beside the other stored objects.
ARCHIVE_PREFIX = "logs/airflow"


@dataclass(frozen=True)
class LogRotation:
    """What one rotation of a log folder did, and what it could not do."""

    root: Path
    counts: dict[str, int]
    problems: tuple[str, ...]

    def summary_line(self) -> str:
        """``log rotation under /logs: 12 logs compressed, 12 uploaded, 12 deleted locally,
        3.4 MiB freed``, and how many could not be rotated, if any."""
        counts = self.counts
        said = counted([(counts["compressed"], "logs compressed"), (counts["uploaded"], "uploaded"),
                        (counts["deleted_local"], "deleted locally")], always=3)  # fmt: skip
        said += f", {size_text(counts['bytes_freed'])} freed"
        if counts["problems"]:
            said += f"; {format_number(counts['problems'])} could not be rotated"
        return f"log rotation under {self.root}: {said}"


def rotate_task_logs(
    engine: Engine,
    root: Path,
    objects: Any,
    conf: LogRotationConf,
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> LogRotation:
    """Rotate the logs under ``root`` into ``objects`` (the object store root) and audit it; a
    log that could not be rotated makes the outcome ``partial`` and is named in the detail."""
    now = now or datetime.now(UTC)
    report = rotate_logs(
        root,
        objects / ARCHIVE_PREFIX,
        now=now,
        compress_after=timedelta(days=conf.compress_after_days),
        delete_after=timedelta(days=conf.keep_local_days),
    )
    counts = report.counts()
    with engine.begin() as connection:
        attempt.record(
            connection,
            "logs_rotated",
            outcome="done" if not report.problems else "partial",
            counts=counts,
            entity_type="log_folder",
            entity_key=str(root)[-250:],
            detail="; ".join(report.problems[:10]) or None,
            at=now,
        )
    for problem in report.problems:
        log.warning("could not rotate %s", problem)
    return LogRotation(root, counts, tuple(report.problems))
