"""Tracks the catalogue does not know, looked up on Spotify before the ingest stores their plays.

Recently-played brings each play's track object, but a landed file's plays name tracks nobody
played through the API; without a ``catalogue_tracks`` row the aggregation sets such a play aside
as ``unknown_track``. So the ingest asks Spotify for the tracks its plays name that the catalogue
lacks, tier-aware (:func:`~spotify_agent.spotify.api.track_payloads`: 50 ids per several-tracks
call on the extended tier, one ``GET /tracks/{id}`` per id in development mode), through the
connection's client: its retries and ``Retry-After`` cap are the rate-limit budget, every call is
counted (``CallStats``) and a 429 beyond the cap hands the retry to Airflow (``RetryLater``)
before the plays are written. Found tracks are committed 50 ids at a time, so a retry asks only
what is left.

An id Spotify does not know (``null`` in a batch, 404 alone), or a track without an artist, is
recorded in the quarantine (source ``spotify:track``, payload ``{"requested_id": <id>}``, field
``track_id``) and not asked again for :data:`ASK_AGAIN_AFTER`; its plays stay set aside
meanwhile. Delete the row to have it asked at the next ingest that names it.

When the catalogue knows a track, the days whose plays of it the aggregation set aside are stale:
:func:`days_set_aside` names them, the ingest adds them to the partitions it announces, and the
aggregation re-runs exactly those days (which replaces their quarantine rows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.quarantine import (
    AGGREGATION_SOURCE,
    UNKNOWN_TRACK,
    QuarantinedItem,
    decode_payload,
    payload_sha256,
    quarantine_items,
)
from spotify_agent.spotify.api import TRACKS_PER_CALL, TrackClient, chunked, track_payloads
from spotify_agent.spotify.errors import orchestration_errors
from spotify_agent.spotify.listening import catalogue_row
from spotify_agent.spotify.listening_store import write_catalogue
from spotify_agent.spotify.models import Tier, Track, parse_objects
from spotify_agent.spotify.resilience import Resilient
from spotify_agent.spotify.stats import CallStats
from spotify_agent.warehouse.schema import catalogue_tracks, quarantine
from spotify_agent.warehouse.times import stored_utc

log = logging.getLogger(__name__)

SOURCE = "spotify:track"
# An id Spotify did not know is asked again after this (a track can be published later).
ASK_AGAIN_AFTER = timedelta(days=7)
_IN_CHUNK = 500


@dataclass(frozen=True)
class TrackLookup:
    """The client that looks tracks up, its connection's tier, and the counter of its calls."""

    client: TrackClient
    tier: Tier
    conn_id: str
    calls: CallStats | None = None


@dataclass(frozen=True)
class LookedUp:
    """What one lookup learned: tracks now in the catalogue, ids Spotify does not know (recorded),
    ids recorded unknown recently and not asked again, and the calls it made."""

    learned: int = 0
    unknown: int = 0
    not_asked: int = 0
    calls: dict[str, int] | None = None

    def counts(self) -> dict[str, int]:
        """Nothing when nothing was unknown, so a run whose tracks are all known reads as before."""
        if not (self.learned or self.unknown or self.not_asked):
            return {}
        return {
            "tracks_learned": self.learned,
            "tracks_unknown_to_spotify": self.unknown,
            "tracks_not_asked_again": self.not_asked,
            **(self.calls or {}),
        }


def look_up_unknown_tracks(
    engine: Engine,
    lookup: Callable[[], TrackLookup] | None,
    track_ids: Iterable[str],
    attempt: Attempt,
    *,
    at: datetime,
) -> LookedUp:
    """Ask Spotify for the tracks among ``track_ids`` the catalogue lacks; commit what it knows to
    ``catalogue_tracks`` and record what it does not. ``lookup`` is built only when an id must
    be asked (``None``: nothing is asked). Spotify failures are raised as ``RetryLater`` /
    ``PermanentFailure`` naming the connection."""
    if lookup is None:
        return LookedUp()
    wanted = sorted(set(track_ids))
    with engine.connect() as connection:
        unknown = sorted(set(wanted) - known_tracks(connection, wanted))
        recent = recorded_unknown(connection, unknown, since=at - ASK_AGAIN_AFTER)
    ask = [track_id for track_id in unknown if track_id not in recent]
    if not ask:
        return LookedUp(not_asked=len(recent))
    chosen = lookup()
    client = Resilient(chosen.client)
    learned = missing = 0
    with orchestration_errors(chosen.conn_id):
        for chunk in chunked(ask, TRACKS_PER_CALL):
            rows, set_aside, absent = _answers(track_payloads(client, chunk, tier=chosen.tier))
            with engine.begin() as connection:
                write_catalogue(connection, rows, at=at)
                items = [*set_aside, *client.quarantined]
                quarantine_items(connection, items, run=attempt.run, at=at)
            client.quarantined.clear()
            learned, missing = learned + len(rows), missing + absent
    log.info(
        "looked up %d unknown tracks (%s tier): %d learned, %d unknown to Spotify; %d not asked "
        "again (unknown within %d days)",
        len(ask),
        chosen.tier,
        learned,
        missing,
        len(recent),
        ASK_AGAIN_AFTER.days,
    )
    calls = chosen.calls.summary() if chosen.calls is not None else None
    return LookedUp(learned, missing, len(recent), calls)


def _answers(
    payloads: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[QuarantinedItem], int]:
    """Catalogue rows of the tracks found, the quarantine items (unknown ids; damaged answers,
    asked again next time), and how many ids Spotify does not know."""
    rows: list[dict[str, Any]] = []
    items: list[QuarantinedItem] = []
    absent = 0
    for track_id, payload in payloads.items():
        if payload is None:
            items.append(_unknown(track_id, "unknown track id"))
            absent += 1
            continue
        parsed = parse_objects(Track, [payload], source=SOURCE)
        items.extend(parsed.quarantined)
        for track in parsed.valid:
            if track.artists:
                rows.append(catalogue_row(track))
            else:  # nothing to count its plays for: as good as unknown
                items.append(_unknown(track_id, "track without artists"))
                absent += 1
    return rows, items, absent


def _unknown(track_id: str, reason: str) -> QuarantinedItem:
    return QuarantinedItem(SOURCE, {"requested_id": track_id}, reason, field="track_id")


def known_tracks(connection: Connection, track_ids: Sequence[str]) -> set[str]:
    """The ids among ``track_ids`` that ``catalogue_tracks`` holds."""
    found: set[str] = set()
    for chunk in chunked(list(track_ids), _IN_CHUNK):
        query = select(catalogue_tracks.c.track_id).where(catalogue_tracks.c.track_id.in_(chunk))
        found.update(connection.execute(query).scalars())
    return found


def recorded_unknown(
    connection: Connection, track_ids: Sequence[str], *, since: datetime
) -> set[str]:
    """The ids among ``track_ids`` recorded as unknown to Spotify at ``since`` or later."""
    found: set[str] = set()
    for chunk in chunked(list(track_ids), _IN_CHUNK):
        digests = {payload_sha256({"requested_id": track_id}): track_id for track_id in chunk}
        query = select(quarantine.c.payload_sha256, quarantine.c.quarantined_at).where(
            quarantine.c.source == SOURCE, quarantine.c.payload_sha256.in_(list(digests))
        )
        for digest, seen in connection.execute(query):
            if stored_utc(seen) >= since:
                found.add(digests[digest])
    return found


def days_set_aside(connection: Connection, track_ids: Collection[str]) -> frozenset[date]:
    """The days whose plays of ``track_ids`` the aggregation set aside as ``unknown_track``: the
    ``listening_events`` partitions to aggregate again once the catalogue knows those tracks.

    Reads every ``unknown_track`` row of the aggregation (one per play set aside, few while the
    catalogue keeps up); a day's re-run replaces them."""
    if not track_ids:
        return frozenset()
    query = select(quarantine.c.source, quarantine.c.payload_encoding, quarantine.c.payload).where(
        quarantine.c.reason == UNKNOWN_TRACK,
        quarantine.c.source.startswith(f"{AGGREGATION_SOURCE}:", autoescape=True),
        quarantine.c.payload_object_key.is_(None),
    )
    days: set[date] = set()
    for source, encoding, text in connection.execute(query):
        payload = decode_payload(encoding, text)
        if isinstance(payload, dict) and payload.get("track_id") in track_ids:
            days.add(date.fromisoformat(source.split(":", 1)[1]))
    return frozenset(days)
