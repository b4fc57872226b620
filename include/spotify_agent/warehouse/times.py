"""Datetimes as the warehouse returns them, made aware again."""

from __future__ import annotations

from datetime import UTC, datetime


def stored_utc(value: datetime) -> datetime:
    """An aware UTC datetime: SQLite hands back naive ones (the warehouse stores UTC),
    PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
