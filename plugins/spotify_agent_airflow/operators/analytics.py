"""What the analytics tasks after the aggregation share: which finished days a run is about."""

from __future__ import annotations

from datetime import date
from typing import Any

from spotify_agent_airflow.context import announced_days


def days_asked_for(context: Any, day: date | None, engine: Any) -> list[date]:
    """The conf's ``day``; else the days the triggering Asset events announce; else (a manual
    run without one) the latest day the aggregation finished; else none."""
    from spotify_agent.analytics.trend_store import latest_aggregated_day

    if day is not None:
        return [day]
    announced = announced_days(context)
    if announced:
        return announced
    with engine.connect() as connection:
        latest = latest_aggregated_day(connection)
    return [latest] if latest else []
