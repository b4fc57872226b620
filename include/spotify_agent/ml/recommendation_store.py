"""What ``recommendation_update`` reads from the warehouse and the sets it writes there."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.recommend import Recommendation, TrackName
from spotify_agent.warehouse.schema import (
    catalogue_tracks,
    erasure_requests,
    listening_events,
    recommendations,
)


def listening_histories(
    connection: Connection, *, active_since: datetime, history_start: datetime, end: datetime
) -> Interactions:
    """Plays per (user, track) in ``[history_start, end)`` of the listeners who played since
    ``active_since``, leaving out anyone with an erasure request still open."""
    events = listening_events.c
    pending = select(erasure_requests.c.user_id).where(
        erasure_requests.c.status != "completed", erasure_requests.c.user_id.is_not(None)
    )
    active = (
        select(events.user_id)
        .where(events.played_at >= active_since, events.played_at < end)
        .where(events.user_id.not_in(pending))
        .distinct()
    )
    rows = connection.execute(
        select(events.user_id, events.track_id, func.count())
        .where(events.played_at >= history_start, events.played_at < end)
        .where(events.user_id.in_(active))
        .group_by(events.user_id, events.track_id)
    ).all()
    return Interactions.from_triples(
        [row[0] for row in rows], [row[1] for row in rows], [float(row[2]) for row in rows]
    )


def known_tracks(connection: Connection) -> dict[str, TrackName]:
    """The tracks the service can show (name and artist), by id."""
    rows = connection.execute(
        select(catalogue_tracks.c.track_id, catalogue_tracks.c.name, catalogue_tracks.c.artist_name)
    )
    return {row.track_id: TrackName(row.name, row.artist_name) for row in rows}


def popular_tracks(
    connection: Connection, *, start: datetime, end: datetime, limit: int = 500
) -> list[str]:
    """The tracks with the most listeners in ``[start, end)``, most first (ties by id)."""
    listeners = func.count(listening_events.c.user_id.distinct())
    rows = connection.execute(
        select(listening_events.c.track_id)
        .where(listening_events.c.played_at >= start, listening_events.c.played_at < end)
        .group_by(listening_events.c.track_id)
        .order_by(listeners.desc(), listening_events.c.track_id)
        .limit(limit)
    )
    return [row[0] for row in rows]


def replace_recommendations(
    connection: Connection,
    model_id: str,
    day: date,
    items: Sequence[Recommendation],
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> int:
    """The (model, day) set, replaced whole; call inside the transaction that audits it."""
    connection.execute(
        delete(recommendations).where(
            recommendations.c.model_id == model_id, recommendations.c.day == day
        )
    )
    rows: list[dict[str, Any]] = [
        {
            "model_id": model_id,
            "day": day,
            "user_id": item.user_id,
            "rank": item.rank,
            "track_id": item.track_id,
            "score": item.score,
            "because_track_id": item.because_track_id,
            "reason": item.reason,
            "run_id": run_id,
            "trace_id": trace_id,
            "created_at": at,
        }
        for item in items
    ]
    for start in range(0, len(rows), 5_000):
        connection.execute(recommendations.insert(), rows[start : start + 5_000])
    return len(rows)
