"""The registry of every place a listener's personal data lives, and how each place is erased.

Each store knows three things: how to erase one user (delete, or rewrite without them, safe to
repeat), how to search for them (the proof after erasing), and which user ids it holds (so a
restored backup can be cleaned by replaying the erasure log). A test holds the registry to the
warehouse schema: every table is either registered here or declared to hold no user id.

Matching is exact, never by substring: a column equals the id; in free text (quarantined
payloads, landed files) the id must be the value of a ``user_id`` field (parsed, or read off a
broken JSON line) or the id of a ``recently_played:<id>`` source. So erasing ``u1`` leaves
``u10`` alone, and erasing a user whose id happens to be ``user_id`` or ``spotify`` touches
nobody else's rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Table, delete, func, or_, select, update

from spotify_agent.core.audit import pseudonymise
from spotify_agent.core.objects import relative_key
from spotify_agent.ml.publish import PREFIX as RECOMMENDATIONS_PREFIX
from spotify_agent.ml.publish import user_key
from spotify_agent.spotify.ids import USER_ID_CHARACTERS
from spotify_agent.spotify.landing import is_parquet, refusal
from spotify_agent.warehouse.schema import (
    agg_listeners,
    audit_log,
    ingested_files,
    listener_profiles,
    listening_cursors,
    listening_events,
    quarantine,
    recommendations,
)

MIN_KEY_BYTES = 16
T = TypeVar("T")


class InvalidErasureKey(ValueError):
    """The HMAC key is missing or too short to keep hashed ids from being guessed."""


def check_key(key: str | None, *, source: str) -> bytes:
    if not key or len(key.encode()) < MIN_KEY_BYTES:
        raise InvalidErasureKey(
            f"{source}: the erasure key (the connection's password) must be at least "
            f"{MIN_KEY_BYTES} bytes; without it no receipt or erasure log can be written"
        )
    return key.encode()


def user_hmac(user_id: str, key: bytes) -> str:
    """The keyed hash that stands for a user in receipts and the erasure log.

    Keyed so that someone holding the audit log cannot confirm a guessed id; the key lives in a
    connection, never in the warehouse. It must not change: the erasure log is matched with it.
    """
    return hmac.new(key, f"user\x1f{user_id}".encode(), hashlib.sha256).hexdigest()


# Where our code writes user ids into text: a JSON ``user_id`` field (whole or in a broken
# line) and the source of a recently-played read (spotify.listening).
_JSON_USER = re.compile(r'"user_id"\s*:\s*"([^"\\]*)"')
_SOURCE_USER = re.compile(rf"recently_played:([{USER_ID_CHARACTERS}]+)")


def user_ids_in_text(text: str) -> set[str]:
    """The user ids ``text`` names: its ``user_id`` field if it is a JSON object (numbers
    included), every ``"user_id": "..."`` in it, and ``recently_played:<id>`` sources."""
    found = set(_JSON_USER.findall(text)) | set(_SOURCE_USER.findall(text))
    try:
        parsed = json.loads(text)
    except ValueError:
        return found
    if isinstance(parsed, dict) and parsed.get("user_id") is not None:
        found.add(str(parsed["user_id"]))
    return found


def mentions(text: str, user_id: str) -> bool:
    """Whether ``text`` names ``user_id`` (exactly; see the module's note on matching)."""
    return user_id in user_ids_in_text(text)


@dataclass(frozen=True)
class Place:
    """Where one erasure reaches: the warehouse, the object store (None on a restored copy) and
    the Redis cache (None where the deployment has none)."""

    connection: Connection
    objects: Any | None = None
    cache: Any | None = None


class PersonalDataStore(ABC):
    name: str
    kind: Literal["warehouse", "object_store", "cache"]
    holds: str

    @abstractmethod
    def erase(self, place: Place, user_id: str) -> int:
        """Delete or anonymise everything of ``user_id``; returns how many items changed."""

    def parts(self, place: Place) -> list[Any]:
        """What one erasure works through, each part committed with its count (resumability):
        the whole store for a warehouse table, one file for an object-store prefix."""
        return [None]

    def erase_part(self, place: Place, part: Any, user_id: str) -> int:
        return self.erase(place, user_id)

    @abstractmethod
    def find(self, place: Place, user_id: str) -> int:
        """How many items still hold ``user_id`` (the proof: zero after :meth:`erase`)."""

    def user_ids(self, place: Place) -> set[str]:
        """The user ids this store holds (replaying the erasure log looks these up)."""
        return set()


class RowsOfUser(PersonalDataStore):
    """Rows keyed by a user id column: deleted."""

    kind = "warehouse"

    def __init__(self, table: Table, column: str, holds: str) -> None:
        self.table = table
        self.column = table.c[column]
        self.name = f"{table.name}.{column}"
        self.holds = holds

    def erase(self, place: Place, user_id: str) -> int:
        result = place.connection.execute(delete(self.table).where(self.column == user_id))
        return int(result.rowcount or 0)

    def find(self, place: Place, user_id: str) -> int:
        query = select(func.count()).select_from(self.table).where(self.column == user_id)
        return int(place.connection.execute(query).scalar_one())

    def user_ids(self, place: Place) -> set[str]:
        return set(place.connection.execute(select(self.column).distinct()).scalars())


class QuarantineMentions(PersonalDataStore):
    """Quarantined payloads (and their sources) that name the user: deleted with the reason.

    A record too large to keep inline lives in the object store (``quarantine/<sha256>``); its
    row names the listener parsed from it (``user_id``), so it is found without reading it, and
    the object goes with the last row that references it (not on a restored copy, which has no
    object store: the live erasure removed it).
    """

    kind = "warehouse"
    name = "quarantine"
    holds = (
        "bad payloads kept for inspection; a listening event's user id, a recently_played "
        "source, the listener parsed from a record (its offloaded object too)"
    )

    def _matching(self, place: Place, user_id: str) -> list[tuple[int, str | None]]:
        # LIKE narrows the scan; bytes stored as base64 cannot be searched in SQL, so they are
        # always read (they are rare) and every candidate is checked as a whole token.
        query = select(
            quarantine.c.id,
            quarantine.c.source,
            quarantine.c.payload,
            quarantine.c.payload_encoding,
            quarantine.c.user_id,
            quarantine.c.payload_object_key,
        ).where(
            or_(
                quarantine.c.user_id == user_id,
                quarantine.c.source.contains(user_id, autoescape=True),
                quarantine.c.payload.contains(user_id, autoescape=True),
                quarantine.c.payload_encoding == "base64",
            )
        )
        return [
            (row.id, row.payload_object_key)
            for row in place.connection.execute(query)
            if row.user_id == user_id
            or mentions(row.source, user_id)
            or mentions(_payload_text(row.payload_encoding, row.payload), user_id)
        ]

    def erase(self, place: Place, user_id: str) -> int:
        matching = self._matching(place, user_id)
        for chunk in chunks([row_id for row_id, _ in matching], 500):
            place.connection.execute(delete(quarantine).where(quarantine.c.id.in_(chunk)))
        offloaded = sorted({key for _, key in matching if key is not None})
        if place.objects is not None and offloaded:
            _delete_unreferenced(place.connection, place.objects, offloaded)
        return len(matching)

    def find(self, place: Place, user_id: str) -> int:
        return len(self._matching(place, user_id))

    def user_ids(self, place: Place) -> set[str]:
        found: set[str] = set()
        query = select(
            quarantine.c.source,
            quarantine.c.payload,
            quarantine.c.payload_encoding,
            quarantine.c.user_id,
        )
        for row in place.connection.execute(query):
            found |= user_ids_in_text(row.source)
            found |= user_ids_in_text(_payload_text(row.payload_encoding, row.payload))
            if row.user_id is not None:
                found.add(row.user_id)
        return found


def _delete_unreferenced(connection: Connection, objects: Any, keys: list[str]) -> None:
    """Delete the offloaded records no remaining quarantine row references."""
    still = set(
        connection.execute(
            select(quarantine.c.payload_object_key).where(quarantine.c.payload_object_key.in_(keys))
        ).scalars()
    )
    for key in keys:
        path = objects / key
        if key not in still and path.exists():
            path.unlink()


def _payload_text(encoding: str, payload: str) -> str:
    if encoding == "base64":
        return base64.b64decode(payload).decode("utf-8", errors="replace")
    return payload


class AuditPseudonyms(PersonalDataStore):
    """Audit rows about a user carry a plain hash of the id: unkeyed, so anyone holding the id
    can find them. They are re-keyed to an unlinkable ``erased:<row id>``; the rows stay."""

    kind = "warehouse"
    name = "audit_log.entity_key"
    holds = "audit rows keyed by a user's pseudonym (listening_ingested)"

    @staticmethod
    def _rows(user_id: str) -> Any:
        return (audit_log.c.entity_type == "user") & (
            audit_log.c.entity_key == pseudonymise(user_id, namespace="user")
        )

    def erase(self, place: Place, user_id: str) -> int:
        ids = list(place.connection.execute(select(audit_log.c.id).where(self._rows(user_id))))
        for (row_id,) in ids:
            place.connection.execute(
                update(audit_log)
                .where(audit_log.c.id == row_id)
                .values(entity_key=f"erased:{row_id}")
            )
        return len(ids)

    def find(self, place: Place, user_id: str) -> int:
        query = select(func.count()).select_from(audit_log).where(self._rows(user_id))
        return int(place.connection.execute(query).scalar_one())


class LandedEventFiles(PersonalDataStore):
    """Event files under ``landing/listening/``: rewritten without the user's rows.

    The rewritten file's new SHA-256 and size replace the old ones in ``ingested_files``, so
    ``listening_ingest`` does not read it again; a file left empty is deleted.
    """

    kind = "object_store"
    name = "objects:landing/listening"
    holds = "listening-event files (JSON Lines or Parquet) landed by the backend"
    prefix = "landing/listening"

    def _files(self, place: Place) -> Iterator[tuple[str, Any]]:
        if place.objects is None:
            return
        landing = place.objects / self.prefix
        if not landing.exists():
            return
        for path in sorted(landing.rglob("*"), key=str):
            key = f"{self.prefix}/{relative_key(path, landing)}"
            # A link (or a path leading out of the store) is never read by ingestion, and is
            # not ours to rewrite: following it could change a file outside the store.
            if refusal(place.objects, key) is None and path.is_file():
                yield key, path

    def parts(self, place: Place) -> list[Any]:
        return list(self._files(place))

    def erase_part(self, place: Place, part: Any, user_id: str) -> int:
        key, path = part
        if not path.exists():  # deleted by an earlier, interrupted attempt
            return 0
        data = path.read_bytes()
        kept, removed = without_user(data, key=key, user_id=user_id)
        if not removed:
            return 0
        if kept:
            path.write_bytes(kept)
        else:
            path.unlink()
        _record_rewrite(place.connection, key, old=data, new=kept)
        return removed

    def erase(self, place: Place, user_id: str) -> int:
        return sum(self.erase_part(place, part, user_id) for part in self.parts(place))

    def find(self, place: Place, user_id: str) -> int:
        return sum(
            without_user(path.read_bytes(), key=key, user_id=user_id)[1]
            for key, path in self._files(place)
        )


class CachedRecommendations(PersonalDataStore):
    """The user's recommendation sets in Redis, one key per set (``recs:<version>:<user_id>``,
    :mod:`spotify_agent.ml.publish`): deleted, from every set, the one behind the pointer
    included. Redis is not backed up, so a restored backup has none of it to replay."""

    kind = "cache"
    name = "cache:recommendations"
    holds = "the tracks recommended to the user, as the backend reads them from Redis"

    def __init__(self, prefix: str = RECOMMENDATIONS_PREFIX) -> None:
        self.prefix = prefix

    def _keys(self, cache: Any, user_id: str) -> list[bytes]:
        # The id is the key's last part (an id has no colon); glob characters are escaped.
        pattern = user_key("*", re.sub(r"([*?\[\]\\])", r"\\\1", user_id), self.prefix)
        return list(cache.scan_iter(match=pattern, count=1_000))

    def erase(self, place: Place, user_id: str) -> int:
        if place.cache is None:
            return 0
        keys = self._keys(place.cache, user_id)
        return int(place.cache.delete(*keys)) if keys else 0

    def find(self, place: Place, user_id: str) -> int:
        return 0 if place.cache is None else len(self._keys(place.cache, user_id))


def without_user(data: bytes, *, key: str, user_id: str) -> tuple[bytes, int]:
    """The file's bytes without the user's rows, and how many rows went.

    JSON Lines: every line naming the user goes, broken lines included. Parquet: rows whose
    ``user_id`` is the user (an unreadable Parquet file cannot hold a findable id: it is left).
    """
    if is_parquet(key):
        return _parquet_without(data, user_id)
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines if not mentions(line.decode("utf-8", errors="replace"), user_id)]
    return b"".join(kept), len(lines) - len(kept)


def _parquet_without(data: bytes, user_id: str) -> tuple[bytes, int]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - unreadable: nothing in it can be matched or kept apart
        return data, 0
    if "user_id" not in table.column_names:
        return data, 0
    # Compared as text: a backend may write numeric ids.
    mine = pc.equal(pc.cast(table["user_id"], pa.string()), user_id)
    removed = int(pc.sum(mine).as_py() or 0)
    if not removed:
        return data, 0
    kept = table.filter(pc.invert(pc.fill_null(mine, False)))
    if kept.num_rows == 0:
        return b"", removed
    sink = io.BytesIO()
    pq.write_table(kept, sink)
    return sink.getvalue(), removed


def _record_rewrite(connection: Connection, key: str, *, old: bytes, new: bytes) -> None:
    old_sha = hashlib.sha256(old).hexdigest()
    if not new:
        return  # the file is gone; its record stays as the history of what was read
    connection.execute(
        update(ingested_files)
        .where(ingested_files.c.object_key == key, ingested_files.c.sha256 == old_sha)
        .values(sha256=hashlib.sha256(new).hexdigest(), size_bytes=len(new))
    )


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: IN lists stay under the databases' parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


REGISTRY: tuple[PersonalDataStore, ...] = (
    RowsOfUser(listening_events, "user_id", holds="every play of the user"),
    RowsOfUser(listening_cursors, "user_id", holds="the user's recently-played cursor"),
    RowsOfUser(listener_profiles, "user_id", holds="the user's country, from the backend"),
    RowsOfUser(agg_listeners, "user_id", holds="the user's plays, time and sessions per day"),
    RowsOfUser(recommendations, "user_id", holds="the tracks recommended to the user"),
    QuarantineMentions(),
    AuditPseudonyms(),
    CachedRecommendations(),
    LandedEventFiles(),
)

# Warehouse tables that hold no user id, each with the reason; a new table must go here or into
# REGISTRY (tests/include/maintenance/test_erasure.py fails otherwise).
HOLDS_NO_USER_ID: dict[str, str] = {
    "health_checks": "component statuses",
    "watched_artists": "artist ids",
    "artist_snapshots": "public artist data",
    "artist_releases": "public release data",
    "artist_events": "changes of public artist data",
    "ingested_files": "object keys and hashes of landed files",
    "managed_playlists": "playlist ids and the connection id (not the user id) that owns them",
    "playlist_syncs": "track URIs written to managed playlists",
    "content_versions": "texts built from aggregate facts",
    "backups": "backup records",
    "erasure_requests": "the raw id while a request is open; completing it clears the id",
    "erasure_steps": "request ids and counts",
    "erasure_log": "keyed hashes only",
    "catalogue_tracks": "public track and artist data",
    # Counts over many listeners; an erased listener's plays stay in them, unattributable.
    "agg_artist_country": "counts per artist and country",
    "agg_tracks": "counts per track",
    "agg_hours": "counts per hour",
    "aggregation_periods": "counts per period and reason",
    "listening_trends": "counts per artist or track and day",
    "reports": "report records; recipients are the service's staff, not listeners",
    # The stored weights are per track (EASE's item-item matrix, ALS's item factors, play
    # counts): no user's row is kept, so an erased listener leaves nothing to find in a model.
    "model_registry": "model records and metrics over many listeners",
    "track_audio_features": "features of tracks' audio",
}
