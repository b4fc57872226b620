"""Listening events: from each connected user's recently-played history and from bulk files.

Every event is validated into :class:`ListeningEvent`; what fails is quarantined with the source
(``spotify:recently_played:<user>`` or ``<object key>:<line>``) and the reason. Events are keyed
by ``(user_id, played_at, track_id)``, so the same play read twice (an overlapping cursor, a file
landed twice) is stored once.

One play, whatever the source: landed files give whole seconds (``08:00:05Z``), recently-played
gives milliseconds (``08:00:05.123Z``). Two events of the same user and track whose ``played_at``
is the same after truncating to the second are the same play (:func:`same_play`), stored once:
the first stored is kept (a file's ``ms_played`` then stays, or the API's milliseconds).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.core.run_conf import describe_errors
from spotify_agent.spotify.api import SpotifyClient, iterate_pages
from spotify_agent.spotify.ids import UserId
from spotify_agent.spotify.landing import is_parquet
from spotify_agent.spotify.models import PlayHistory, SpotifyId, Track, parse_objects

# The recently-played endpoint pages at most 50 plays.
RECENTLY_PLAYED_LIMIT = 50
# Spotify launched in 2008: an earlier play is a broken timestamp, not history.
EARLIEST_PLAY = datetime(2008, 1, 1, tzinfo=UTC)


class ListeningEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: UserId
    track_id: SpotifyId
    played_at: AwareDatetime
    # Strict: JSON true is not 1 ms and "1000" is not a number; both are quarantined, named.
    ms_played: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000, strict=True)
    context_uri: str | None = Field(default=None, max_length=250)

    def key(self) -> tuple[str, datetime, str]:
        return (self.user_id, self.played_at.astimezone(UTC), self.track_id)

    def play_key(self) -> tuple[str, datetime, str]:
        """The play this event is, across sources: see :func:`same_play`."""
        return same_play(self.user_id, self.played_at, self.track_id)

    def as_row(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "track_id": self.track_id,
            "played_at": self.played_at.astimezone(UTC),
            "ms_played": self.ms_played,
            "context_uri": self.context_uri,
        }


@dataclass
class EventBatch:
    events: list[ListeningEvent] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)
    # track_id -> catalogue row, from the track objects that came with the plays.
    tracks: dict[str, dict[str, Any]] = field(default_factory=dict)


def validate_event(payload: Any, *, source: str, now: datetime) -> ListeningEvent | QuarantinedItem:
    """One event, or the quarantine entry saying which field is wrong."""
    try:
        event = ListeningEvent.model_validate(payload)
    except ValidationError as error:
        loc = error.errors()[0]["loc"]
        return QuarantinedItem(
            source,
            payload,
            "; ".join(describe_errors(error, show_input=False)),
            field=str(loc[0]) if loc else None,
        )
    if not EARLIEST_PLAY <= event.played_at <= now:
        return QuarantinedItem(
            source,
            payload,
            f"played_at {event.played_at.isoformat()} is outside 2008..now",
            field="played_at",
        )
    return event


def recently_played(
    client: SpotifyClient, *, user_id: str, after_ms: int | None, now: datetime
) -> tuple[EventBatch, int | None]:
    """Plays after the cursor (all of the kept history on the first run) and the new cursor."""
    source = f"spotify:recently_played:{user_id}"
    first = client.current_user_recently_played(limit=RECENTLY_PLAYED_LIMIT, after=after_ms)
    plays = parse_objects(PlayHistory, iterate_pages(client, first), source=source)
    # The user is known here: the rows name them, so an erasure finds them by column.
    batch = EventBatch(quarantined=[replace(item, user_id=user_id) for item in plays.quarantined])
    for play in plays.valid:
        checked = validate_event(
            {
                "user_id": user_id,
                "track_id": play.track.id,
                "played_at": play.played_at,
                # Recently-played does not say how long the track played: missing, not a guess.
                "ms_played": None,
                "context_uri": (play.context or {}).get("uri"),
            },
            source=source,
            now=now,
        )
        _add(batch, checked)
        if isinstance(checked, ListeningEvent) and play.track.artists:
            batch.tracks[play.track.id] = catalogue_row(play.track)
    newest = max((int(e.played_at.timestamp() * 1000) for e in batch.events), default=None)
    cursor = max(filter(None, (after_ms, newest)), default=None)
    return batch, cursor


def catalogue_row(track: Track) -> dict[str, Any]:
    """What the aggregation needs to know of a track; its first artist is the one credited."""
    artist = track.artists[0]
    return {
        "track_id": track.id,
        "artist_id": artist.id,
        "artist_name": artist.name,
        "name": track.name,
        "duration_ms": track.duration_ms,
    }


def read_event_file(data: bytes, *, key: str, now: datetime) -> EventBatch:
    """Events of a landed file: JSON Lines (``.jsonl``, ``.json``) or Parquet (``.parquet``),
    whatever the case of the suffix."""
    rows = _parquet_rows(data, key) if is_parquet(key) else _jsonl_rows(data, key)
    batch = EventBatch()
    for source, row in rows:
        if isinstance(row, QuarantinedItem):
            batch.quarantined.append(row)
            continue
        _add(batch, validate_event(row, source=source, now=now))
    return batch


def _add(batch: EventBatch, checked: ListeningEvent | QuarantinedItem) -> None:
    if isinstance(checked, ListeningEvent):
        batch.events.append(checked)
    else:
        batch.quarantined.append(checked)


def _jsonl_rows(data: bytes, key: str) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{key}:{number}"
        try:
            yield source, json.loads(line)
        except ValueError as error:
            yield source, QuarantinedItem(source, line, f"line {number} is not JSON: {error}")


def _parquet_rows(data: bytes, key: str) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any reader error means an unreadable file
        # The file stays in the object store: quarantine a reference, not a copy of its bytes.
        reference = {"object_key": key, "sha256": sha256_of(data), "size_bytes": len(data)}
        yield key, QuarantinedItem(key, reference, f"not a readable Parquet file: {error}")
        return
    for number, row in enumerate(table.to_pylist(), start=1):
        yield f"{key}:row{number}", row


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def same_play(user_id: str, played_at: datetime, track_id: str) -> tuple[str, datetime, str]:
    """The key of a play across sources: the user, the track and ``played_at`` in UTC truncated
    to the second (files carry whole seconds, recently-played milliseconds; nobody starts the
    same track twice within one second). Naive times are UTC (SQLite reads them back so)."""
    at = played_at.replace(tzinfo=UTC) if played_at.tzinfo is None else played_at.astimezone(UTC)
    return (user_id, at.replace(microsecond=0), track_id)


def unique_events(events: Iterable[ListeningEvent]) -> list[ListeningEvent]:
    """The first event of each play (:func:`same_play`): duplicates inside one batch."""
    seen: dict[tuple[str, datetime, str], ListeningEvent] = {}
    for event in events:
        seen.setdefault(event.play_key(), event)
    return list(seen.values())
