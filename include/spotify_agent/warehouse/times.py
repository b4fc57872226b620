"""Datetimes as the warehouse returns them, made aware again."""

from __future__ import annotations

from datetime import UTC, date, datetime


def stored_utc(value: datetime) -> datetime:
    """An aware UTC datetime: SQLite hands back naive ones (the warehouse stores UTC),
    PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def day_start_utc(at: datetime) -> datetime:
    """00:00 UTC of the day ``at`` falls in: where windows of whole days end."""
    return midnight_utc(at.astimezone(UTC).date())


def midnight_utc(day: date) -> datetime:
    """The start of ``day`` in UTC: how the warehouse keys a day's periods."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
