"""Task-log rotation: compress old logs, keep a copy in the object store, free the local disk.

A log older than ``compress_after`` is gzipped beside itself (through a temporary file renamed
into place), the archive is uploaded under the same relative path, and the original is deleted
only once the stored copy has the archive's size. A local archive older than ``delete_after`` is
deleted once the object store holds it. Every step checks what is already there, so a run that
stopped midway, or a second run, does only what is left. Archives keep the log's modification
time, so their age is the log's age.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass
class RotationReport:
    compressed: int = 0
    uploaded: int = 0
    deleted_local: int = 0
    bytes_freed: int = 0
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "compressed": self.compressed,
            "uploaded": self.uploaded,
            "deleted_local": self.deleted_local,
            "bytes_freed": self.bytes_freed,
            "problems": len(self.problems),
        }


def rotate_logs(
    root: Path,
    store: Any,
    *,
    now: datetime,
    compress_after: timedelta,
    delete_after: timedelta,
) -> RotationReport:
    """Rotate every ``*.log`` under ``root``; ``store`` is the object-store folder for archives."""
    if delete_after < compress_after:
        raise ValueError("logs are deleted locally only after they are compressed")
    report = RotationReport()
    if not root.is_dir():
        return report
    for log in sorted(root.rglob("*.log")):
        if _age(log, now) < compress_after:
            continue
        try:
            archive = _compress(log)
            report.compressed += 1
            _upload(archive, store / archive.relative_to(root).as_posix(), report)
            report.bytes_freed += log.stat().st_size - archive.stat().st_size
            log.unlink()
        except OSError as error:
            report.problems.append(f"{log.relative_to(root)}: {error}")
    for archive in sorted(root.rglob("*.log.gz")):
        if _age(archive, now) < delete_after:
            continue
        try:
            _upload(archive, store / archive.relative_to(root).as_posix(), report)
            size = archive.stat().st_size
            archive.unlink()
            report.deleted_local += 1
            report.bytes_freed += size
        except OSError as error:
            report.problems.append(f"{archive.relative_to(root)}: {error}")
    return report


def _age(path: Path, now: datetime) -> timedelta:
    return now - datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)


def _compress(log: Path) -> Path:
    archive = log.with_name(log.name + ".gz")
    if archive.exists():  # an earlier run compressed it and stopped before deleting the log
        return archive
    partial = log.with_name(log.name + ".gz.partial")
    with log.open("rb") as source, gzip.open(partial, "wb") as sink:
        shutil.copyfileobj(source, sink)
    stat = log.stat()
    os.utime(partial, (stat.st_atime, stat.st_mtime))
    partial.replace(archive)
    return archive


def _upload(archive: Path, destination: Any, report: RotationReport) -> None:
    """Store ``archive`` unless an object of its size is there; raise if the copy is short."""
    size = archive.stat().st_size
    if destination.exists() and destination.stat().st_size == size:
        return
    parent = getattr(destination, "parent", None)
    if getattr(destination, "protocol", "") in ("", "file", "local") and parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    with archive.open("rb") as source, destination.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    if destination.stat().st_size != size:
        raise OSError(f"stored copy of {archive.name} is not {size} bytes")
    report.uploaded += 1
