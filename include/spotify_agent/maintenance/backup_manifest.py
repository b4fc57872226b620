"""The manifest beside each stored backup: what a restore needs when nothing else is left.

A backup's record lives in the warehouse's ``backups`` table, which is lost with the warehouse.
So each backup also writes ``backups/<database>/<date>/manifest.json`` next to its dump: the
dump's key, size and SHA-256, the table fingerprints the restored copy must match, whether the
backup was verified, and the erasure log's position and key ids at backup time. A restore finds
backups by their manifests alone (:func:`read_manifests`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from spotify_agent.core.objects import ensure_parent
from spotify_agent.maintenance.backup import Fingerprint, fingerprint_from_json

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ErasureLogPosition:
    """The erasure log as the backed-up warehouse held it."""

    entries: int
    key_ids: list[str]
    last_erased_at: str | None


@dataclass(frozen=True)
class BackupManifest:
    database: str
    backup_date: date
    object_key: str
    size_bytes: int
    sha256: str
    total_rows: int
    tables: dict[str, dict[str, Any]]
    status: str
    created_at: str
    run_id: str
    trace_id: str
    erasure_log: ErasureLogPosition | None = None
    detail: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    @property
    def suffix(self) -> str:
        return self.object_key.rsplit(".", 1)[-1]

    def fingerprint(self) -> Fingerprint:
        return fingerprint_from_json(self.tables)

    def to_json(self) -> str:
        data = asdict(self)
        data["backup_date"] = self.backup_date.isoformat()
        return json.dumps(data, sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> BackupManifest:
        data = json.loads(text)
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version!r}: this release reads {FORMAT_VERSION}")
        position = data.pop("erasure_log", None)
        return cls(
            **{**data, "backup_date": date.fromisoformat(data["backup_date"])},
            erasure_log=ErasureLogPosition(**position) if position else None,
        )


def manifest_key(database: str, day: date) -> str:
    return f"backups/{database}/{day.isoformat()}/{MANIFEST_NAME}"


def write_manifest(objects: Any, manifest: BackupManifest) -> str:
    """Store the manifest next to its dump (a re-run of the day replaces both); returns its key."""
    key = manifest_key(manifest.database, manifest.backup_date)
    path = objects / key
    ensure_parent(path)
    path.write_text(manifest.to_json())
    return key


def read_manifests(objects: Any, database: str) -> tuple[list[BackupManifest], list[str]]:
    """Every manifest of ``database`` in the store, oldest first, and the ones that could not be
    read (key and why), so a listing can say what it skipped."""
    folder = objects / "backups" / database
    manifests: list[BackupManifest] = []
    unreadable: list[str] = []
    if not folder.exists():
        return manifests, unreadable
    for day_folder in sorted(folder.iterdir(), key=str):
        path = day_folder / MANIFEST_NAME
        if not path.exists():
            continue
        try:
            manifests.append(BackupManifest.from_json(path.read_text()))
        except (ValueError, TypeError, KeyError) as error:
            unreadable.append(f"{database}/{day_folder.name}/{MANIFEST_NAME}: {error}")
    manifests.sort(key=lambda manifest: manifest.backup_date)
    return manifests, unreadable
