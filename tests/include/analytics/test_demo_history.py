"""The demo's synthetic history (SQLite and PostgreSQL): 35 finished days written by the
pipeline's own functions, the planted artist found rising and no one else, idempotent. Its
extract and writes share one connection: on PostgreSQL that once sent the writes through the
extract's server-side cursor."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from spotify_agent.analytics.demo_history import rising_artist, seed_history
from spotify_agent.analytics.trend_store import aggregated_days, daily_plays, entity_names
from spotify_agent.analytics.trends import TrendRules, baseline_window, detect_trends
from spotify_agent.warehouse.schema import aggregation_periods

LAST_DAY = date(2026, 11, 25)


def test_the_demo_history_has_a_past_and_one_rising_artist(warehouse) -> None:
    with warehouse.begin() as connection:
        assert seed_history(connection, last_day=LAST_DAY) == 35
    with warehouse.begin() as connection:
        assert seed_history(connection, last_day=LAST_DAY) == 0  # already there: nothing added
    rules = TrendRules()
    with warehouse.connect() as connection:
        days = aggregated_days(connection, *baseline_window(LAST_DAY, rules))
        plays = list(daily_plays(connection, "artist", LAST_DAY, rules))
        trends = detect_trends("artist", plays, day=LAST_DAY, aggregated_days=days)
        names = entity_names(connection, "artist", [t.entity_id for t in trends])
        periods = connection.execute(
            select(func.count()).select_from(aggregation_periods)
        ).scalar_one()
    assert periods == 35 and len(days) == 29
    assert [(names[t.entity_id], t.kind) for t in trends] == [(rising_artist(), "rising")]
    assert trends[0].significant and trends[0].ratio > 5
