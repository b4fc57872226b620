"""Every Asset the families exchange, defined once (DESIGN: families talk through Assets).

URIs name warehouse tables (``warehouse://spotify_agent/<table>``) or object-store prefixes;
they are identifiers for scheduling, not connection strings.
"""

from __future__ import annotations

from airflow.sdk import Asset

ARTIST_SNAPSHOTS = Asset(
    name="artist_snapshots", uri="warehouse://spotify_agent/artist_snapshots", group="warehouse"
)
ARTIST_EVENTS = Asset(
    name="artist_events", uri="warehouse://spotify_agent/artist_events", group="warehouse"
)
