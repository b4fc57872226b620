from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from spotify_agent.warehouse.schema import health_checks
from spotify_agent.warehouse.upsert import upsert

AT = datetime(2026, 11, 26, tzinfo=UTC)


def _row(component: str, status: str, run_id: str = "r1") -> dict[str, object]:
    return {
        "run_id": run_id,
        "trace_id": "b" * 32,
        "component": component,
        "status": status,
        "latency_ms": 1,
        "detail": status,
        "measured_at": AT,
    }


def test_upsert_inserts_new_keys_and_updates_existing_ones(warehouse) -> None:
    with warehouse.begin() as connection:
        upsert(
            connection,
            health_checks,
            [_row("warehouse", "up"), _row("cache", "off")],
            key=("run_id", "component"),
        )
        upsert(
            connection,
            health_checks,
            [_row("warehouse", "down"), _row("warehouse", "up", run_id="r2")],
            key=("run_id", "component"),
        )
    with warehouse.connect() as connection:
        rows = connection.execute(
            select(
                health_checks.c.run_id,
                health_checks.c.component,
                health_checks.c.status,
                health_checks.c.detail,
            ).order_by(health_checks.c.run_id, health_checks.c.component)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("r1", "cache", "off", "off"),
        ("r1", "warehouse", "down", "down"),
        ("r2", "warehouse", "up", "up"),
    ]


def test_upsert_can_limit_which_columns_an_update_touches(warehouse) -> None:
    with warehouse.begin() as connection:
        upsert(connection, health_checks, [_row("cache", "up")], key=("run_id", "component"))
        upsert(
            connection,
            health_checks,
            [_row("cache", "down")],
            key=("run_id", "component"),
            update=["status"],
        )
    with warehouse.connect() as connection:
        status, detail = connection.execute(
            select(health_checks.c.status, health_checks.c.detail)
        ).one()
    assert (status, detail) == ("down", "up")


def test_upsert_refuses_rows_without_the_key(warehouse) -> None:
    row = _row("cache", "up")
    del row["run_id"]
    with warehouse.begin() as connection, pytest.raises(ValueError, match="run_id"):
        upsert(connection, health_checks, [row], key=("run_id", "component"))
