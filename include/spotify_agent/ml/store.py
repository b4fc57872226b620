"""What the recommenders read from the warehouse."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from spotify_agent.ml.interactions import Interactions
from spotify_agent.warehouse.schema import listening_events


def plays_between(connection: Connection, start: datetime, end: datetime) -> Interactions:
    """Plays per (user, track) in ``[start, end)``, as a user-item matrix."""
    rows = connection.execute(
        select(listening_events.c.user_id, listening_events.c.track_id, func.count())
        .where(listening_events.c.played_at >= start, listening_events.c.played_at < end)
        .group_by(listening_events.c.user_id, listening_events.c.track_id)
    ).all()
    return Interactions.from_triples(
        [row[0] for row in rows], [row[1] for row in rows], [float(row[2]) for row in rows]
    )
