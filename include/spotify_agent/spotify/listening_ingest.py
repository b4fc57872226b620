"""The ``listening_ingest`` job, in its steps: list the event files waiting under
``landing/listening/``; per connected user, store the plays since their cursor and move it; per
landed file, store its events (or quarantine a reference to a file that must not be read). Each
write stores the events, sets aside what failed validation and audits it, in one transaction.

Nothing new of an erased user is kept: an account of theirs is not read, their events and
quarantine items are dropped and a landed file is rewritten without them, checked again inside
the write's transaction. The erasure side is a port (:class:`ErasureGuard`, in a deployment
``spotify_agent.maintenance.erasure.IngestGuard``): this domain does not import ``maintenance``.

Before a batch is written, the tracks its plays name that the catalogue lacks are looked up on
Spotify (:mod:`spotify_agent.spotify.track_lookup`), and the days the aggregation set aside plays
of a track the catalogue now knows join the partitions the ingest announces, so those days are
aggregated again with the plays counted.

Idempotent: a play is stored once whatever the source (the same user and track at the same
second: :func:`~spotify_agent.spotify.listening.same_play`), so a re-read stores nothing twice; a
file is recorded by key and SHA-256 and not read again unless it changes; a refused key is
quarantined once and not listed again; a quarantined payload is kept once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, Engine

from spotify_agent.core.audit import Attempt, pseudonymise, record_write
from spotify_agent.core.numbers import counts_text
from spotify_agent.core.objects import relative_key
from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.spotify.api import SpotifyClient
from spotify_agent.spotify.errors import orchestration_errors
from spotify_agent.spotify.landing import LANDING_PREFIX, is_event_file, refusal
from spotify_agent.spotify.listening import (
    EventBatch,
    ListeningEvent,
    read_event_file,
    recently_played,
    sha256_of,
)
from spotify_agent.spotify.listening_store import (
    already_ingested,
    already_refused,
    cursor_of,
    ingested_sizes,
    move_cursor,
    record_file,
    refused_file,
    write_catalogue,
    write_events,
)
from spotify_agent.spotify.resilience import Resilient
from spotify_agent.spotify.stats import CallStats
from spotify_agent.spotify.track_lookup import (
    LookedUp,
    TrackLookup,
    days_set_aside,
    known_tracks,
    look_up_unknown_tracks,
)

__all__ = ["TrackLookup"]  # built by the operators, which import this module whole

log = logging.getLogger(__name__)

# One mapped task per file: stay well under Airflow's max_map_length (1024); the rest waits an hour.
MAX_FILES_PER_RUN = 500

Outcome = Literal["stored", "erased_user", "skipped", "refused"]


class ErasureGuard(Protocol):
    """What the ingest asks the erasure side so that an erasure sticks."""

    def erased_among(self, connection: Connection, user_ids: Iterable[str]) -> set[str]:
        """Which of ``user_ids`` are erased or being erased."""
        ...

    def without_erased(
        self,
        connection: Connection,
        events: Sequence[ListeningEvent],
        quarantined: Sequence[QuarantinedItem],
    ) -> tuple[list[ListeningEvent], list[QuarantinedItem], set[str]]:
        """The batch's events and items that name no erased user, and the erased users found."""
        ...

    def without_user(self, data: bytes, *, key: str, user_id: str) -> tuple[bytes, int]:
        """A landed file's bytes without the user's rows, and how many rows went."""
        ...


@dataclass(frozen=True)
class LandingFiles:
    """The keys of the landed event files this run reads, oldest name first."""

    keys: list[str]
    # Every file waiting; beyond the run's limit they wait for the next run.
    waiting: int

    def summary_line(self) -> str:
        if self.waiting > len(self.keys):
            return f"{self.waiting} files waiting; this run reads the first {len(self.keys)}"
        return f"{len(self.keys)} landed files to read"


@dataclass(frozen=True)
class ListeningIngest:
    """What one ingest (a user's recently-played, one landed file) stored, or why nothing."""

    label: str  # "recently played via <connection>", or the object key
    outcome: Outcome
    counts: dict[str, int]
    # The UTC days of the plays it stored: the listening_events partitions it changed.
    days: frozenset[date] = frozenset()

    def summary_line(self) -> str:
        return f"{self.label}: {counts_text(self.counts)}"

    def as_dict(self) -> dict[str, Any]:
        """The counts, and ``partitions``: the days as partition keys (``YYYY-MM-DD``)."""
        return {**self.counts, "partitions": sorted(day.isoformat() for day in self.days)}


def list_landing_files(
    engine: Engine, objects: Any, *, limit: int = MAX_FILES_PER_RUN
) -> LandingFiles:
    """Keys of event files under ``landing/listening/`` of the store ``objects`` not read yet.

    A file already recorded with the same size is left out without being downloaded; the
    ingest still compares SHA-256, so a same-size rewrite is caught when it is listed. A key the
    ingest must refuse (a link, a path outside the folder) is listed without being looked at,
    so its ingest records the refusal; once recorded, it is not listed again.
    """
    landing = objects / LANDING_PREFIX
    if not landing.exists():
        return LandingFiles([], 0)
    found: dict[str, int] = {}
    refused: list[str] = []
    for path in landing.rglob("*"):
        if not is_event_file(path.name):
            continue
        key = f"{LANDING_PREFIX}/{relative_key(path, landing)}"
        if refusal(objects, key) is not None:
            refused.append(key)  # not even stat'ed: a link's target is none of our business
        elif path.is_file():
            found[key] = path.stat().st_size
    with engine.connect() as connection:
        seen = ingested_sizes(connection, list(found))
        refused = sorted(set(refused) - already_refused(connection, refused))
    waiting = sorted(
        [*refused, *(key for key, size in found.items() if size not in seen.get(key, set()))]
    )
    if len(waiting) > limit:
        log.warning("%d files waiting; this run reads the first %d", len(waiting), limit)
    return LandingFiles(waiting[:limit], len(waiting))


def ingest_recently_played(
    engine: Engine,
    client: SpotifyClient,
    attempt: Attempt,
    *,
    spotify_conn_id: str,
    guard: ErasureGuard,
    objects: Any | None = None,
    calls: CallStats | None = None,
    tracks: Callable[[], TrackLookup] | None = None,
    now: datetime | None = None,
) -> ListeningIngest:
    """Store the connected user's plays since their cursor, the tracks that came with them (and
    those ``tracks`` looks up: plays whose track object came without an artist) and the moved
    cursor; audit it under the user's pseudonym. Spotify failures are raised as
    ``RetryLater`` / ``PermanentFailure`` naming ``spotify_conn_id``, before anything is
    written. An erased user's account is not read (not even a cursor is kept). ``objects``
    keeps large quarantined records; ``calls`` counts the client's requests for the audit."""
    at = now or datetime.now(UTC)
    label = f"recently played via {spotify_conn_id}"
    nothing = ListeningIngest(label, "erased_user", {"rows_written": 0, "erased_user": 1})
    resilient = Resilient(client)
    with orchestration_errors(spotify_conn_id):
        user_id = str(resilient.current_user()["id"])
        with engine.connect() as connection:
            if guard.erased_among(connection, [user_id]):
                # Not even a cursor: the row would hold the id again.
                log.warning(
                    "%s belongs to an erased user: nothing read; remove the connection",
                    spotify_conn_id,
                )
                return nothing
            after_ms = cursor_of(connection, user_id)
        batch, cursor = recently_played(resilient, user_id=user_id, after_ms=after_ms, now=at)
    came = set(batch.tracks)
    unknown = {event.track_id for event in batch.events} - came
    looked_up = look_up_unknown_tracks(engine, tracks, unknown, attempt, at=at)
    with engine.begin() as connection:
        # Again in the write's transaction: an erasure may have started during the read.
        if guard.erased_among(connection, [user_id]):
            log.warning("%s: the user's erasure began during the read", spotify_conn_id)
            return nothing
        written = write_events(
            connection,
            batch.events,
            source=f"recently_played:{spotify_conn_id}",
            run_id=attempt.run_id,
            at=at,
        )
        catalogued = write_catalogue(connection, list(batch.tracks.values()), at=at)
        if cursor is not None:
            move_cursor(connection, user_id, cursor, spotify_conn_id=spotify_conn_id, at=at)
        stale = _stale_days(connection, batch.events)
        counts = record_write(
            connection,
            attempt,
            "listening_ingested",
            counts={
                **_play_counts(written.new, written.duplicates, catalogued, calls),
                **_lookup_counts(looked_up, stale - written.days, with_calls=False),
            },
            quarantined=[*batch.quarantined, *resilient.quarantined],
            objects=objects,
            entity_type="user",
            entity_key=pseudonymise(user_id, namespace="user"),
            at=at,
        )
    return ListeningIngest(label, "stored", counts, written.days | stale)


def _stale_days(connection: Connection, events: Sequence[ListeningEvent]) -> frozenset[date]:
    """The days whose plays of the batch's tracks the aggregation set aside while the catalogue
    did not know them, and which it knows now (the days to aggregate again)."""
    known = known_tracks(connection, sorted({event.track_id for event in events}))
    return days_set_aside(connection, known)


def _lookup_counts(
    looked_up: LookedUp, re_run: frozenset[date], *, with_calls: bool
) -> dict[str, int]:
    counts = looked_up.counts()
    if not with_calls:
        counts = {key: value for key, value in counts.items() if not key.startswith("spotify_")}
    return {**counts, **({"days_re_run": len(re_run)} if re_run else {})}


def _play_counts(new: int, duplicates: int, tracks: int, calls: CallStats | None) -> dict[str, int]:
    return {
        "rows_written": new,
        "duplicates": duplicates,
        "quarantined": 0,  # record_write adds the items it sets aside
        "catalogue_tracks": tracks,
        **(calls.summary() if calls is not None else {}),
    }


def ingest_event_file(
    engine: Engine,
    objects: Any,
    object_key: str,
    attempt: Attempt,
    *,
    guard: Callable[[], ErasureGuard],
    tracks: Callable[[], TrackLookup] | None = None,
    now: datetime | None = None,
) -> ListeningIngest:
    """Store the events of the landed file ``object_key`` of the store ``objects``, quarantine
    its bad rows (large ones in ``objects``), record the file by key and SHA-256 and audit it.
    The tracks its plays name that the catalogue lacks are looked up first through ``tracks``
    (built only then; ``None`` asks nothing): a Spotify failure leaves the file for the retry.

    A file read before (same key and SHA-256) or gone since it was listed is skipped; one that
    is a link or lies outside the landing folder is refused unread (a reference to it is
    quarantined and the refusal audited). Rows of erased users are dropped and the file is
    rewritten without them (deleted when nothing is left). ``guard`` is asked for only when
    the file has rows to store.
    """
    at = now or datetime.now(UTC)
    refused = refusal(objects, object_key)
    if refused is not None:
        return _refuse(engine, object_key, refused, attempt, at=at)
    path = objects / object_key
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        # Listed, then deleted: by a person, or by an erasure that left it empty.
        log.warning("%s is gone: nothing to read", object_key)
        return _skipped(object_key)
    digest = sha256_of(data)
    with engine.connect() as connection:
        if already_ingested(connection, object_key, digest):
            log.info("%s (sha256 %s) was ingested before: skipped", object_key, digest[:12])
            return _skipped(object_key)
    batch = read_event_file(data, key=object_key, now=at)
    named = {event.track_id for event in batch.events}
    looked_up = look_up_unknown_tracks(engine, tracks, named, attempt, at=at)
    with engine.begin() as connection:
        stale = _stale_days(connection, batch.events)
        counts, days = _store_file(
            connection,
            objects,
            object_key,
            (data, digest),
            batch,
            attempt,
            guard(),
            at=at,
            looked_up=(looked_up, stale),
        )
    return ListeningIngest(object_key, "stored", counts, days | stale)


def _store_file(
    connection: Connection,
    objects: Any,
    object_key: str,
    read: tuple[bytes, str],
    batch: EventBatch,
    attempt: Attempt,
    guard: ErasureGuard,
    *,
    at: datetime,
    looked_up: tuple[LookedUp, frozenset[date]],
) -> tuple[dict[str, int], frozenset[date]]:
    events, bad, erased = guard.without_erased(connection, batch.events, batch.quarantined)
    dropped = len(batch.events) + len(batch.quarantined) - len(events) - len(bad)
    data, digest = read  # the file's bytes and their SHA-256
    if erased:
        # The file must not keep them either: the object store is a registered store.
        data = _rewrite_without(objects / object_key, data, erased, guard)
        digest = sha256_of(data)
        log.warning("%s: %d rows of erased users dropped", object_key, dropped)
    new, duplicates, days = write_events(
        connection, events, source=object_key, run_id=attempt.run_id, at=at
    )
    counts = record_write(
        connection,
        attempt,
        "listening_file_ingested",
        counts={
            "rows_written": new,
            "duplicates": duplicates,
            "quarantined": 0,  # record_write adds the items it sets aside
            "erased_user_rows_dropped": dropped,
            **_lookup_counts(looked_up[0], looked_up[1] - days, with_calls=True),
        },
        quarantined=bad,
        objects=objects,
        entity_type="object",
        entity_key=object_key[-250:],
        at=at,
    )
    record_file(
        connection,
        {
            "object_key": object_key,
            "sha256": digest,
            "size_bytes": len(data),
            "events": new,
            "duplicates": duplicates,
            "quarantined": counts["quarantined"],
            "run_id": attempt.run_id,
            "ingested_at": at,
        },
    )
    return counts, days


def _rewrite_without(path: Any, data: bytes, user_ids: set[str], guard: ErasureGuard) -> bytes:
    """The file at ``path`` without the rows of ``user_ids``; deleted when nothing is left."""
    for user_id in sorted(user_ids):
        data, _ = guard.without_user(data, key=str(path), user_id=user_id)
    if data:
        path.write_bytes(data)
    else:
        path.unlink()
    return data


def _refuse(
    engine: Engine, object_key: str, reason: str, attempt: Attempt, *, at: datetime
) -> ListeningIngest:
    """Quarantine a reference to the refused key (nothing of it is read) and audit it."""
    log.warning("%s refused: %s", object_key, reason)
    with engine.begin() as connection:
        counts = record_write(
            connection,
            attempt,
            "listening_file_refused",
            counts={"rows_written": 0, "refused_files": 1, "quarantined": 0},
            quarantined=[refused_file(object_key, reason)],
            entity_type="object",
            entity_key=object_key[-250:],
            at=at,
        )
    return ListeningIngest(object_key, "refused", counts)


def _skipped(object_key: str) -> ListeningIngest:
    return ListeningIngest(object_key, "skipped", {"rows_written": 0, "skipped_files": 1})
