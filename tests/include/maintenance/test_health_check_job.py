"""The health_check job without Airflow, on each warehouse backend: every component measured,
recorded once per run with its audit row and the probe cleaned up; a component down is recorded,
paged under its own key and named in the failure; a warehouse that is down still fails naming
it; an alert PagerDuty refuses fails the run after the results are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.pagerduty import AlertEvent, send_event
from spotify_agent.maintenance.health import ComponentHealth, HealthCheckFailed, check_database
from spotify_agent.maintenance.health_check import HealthPorts, check_health
from spotify_agent.warehouse.schema import audit_log, health_checks
from tests.include.maintenance.test_erasure import KEYS
from tests.receivers import PagerDutyReceiver, run_pagerduty_receiver

ATTEMPT = Attempt("health_check", "manual__2026-11-26T10:00:00+00:00", "cd" * 16, "check")
NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
EVERY = ["warehouse", "object_store", "cache", "metadata_db", "scheduler", "celery_workers",
         "spotify", "backups", "disk_space", "erasure_keys"]  # fmt: skip


@dataclass
class Spotify:
    answer: tuple[bool, str] = (True, "token and search ok")

    def test_connection(self) -> tuple[bool, str]:
        return self.answer


@dataclass
class Pager:
    """PagerDuty's Events API, reached for real (the receiver plays PagerDuty)."""

    receiver: PagerDutyReceiver
    routing_key: str

    def send(self, event: AlertEvent) -> str:
        return send_event(event, routing_key=self.routing_key, base_url=self.receiver.url)


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyReceiver]:
    with run_pagerduty_receiver() as receiver:
        yield receiver


@pytest.fixture
def ports(warehouse, redis_url: str, tmp_path: Path) -> HealthPorts:
    return HealthPorts(
        warehouse_url=lambda: warehouse.url,
        objects=lambda: tmp_path / "objects",
        cache=lambda: redis.Redis.from_url(redis_url),
        spotify=Spotify,
        volumes=lambda: {"tmp": tmp_path},
        keyring=lambda: KEYS,
        # Any SQL database answering stands in for Airflow's.
        metadata_db=lambda: check_database("metadata_db", warehouse.url),
        scheduler=lambda: ComponentHealth("scheduler", "off", "no scheduler is running"),
        celery_workers=lambda: ComponentHealth("celery_workers", "off", "not Celery"),
    )


def _recorded(engine) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    with engine.connect() as connection:
        health = dict(
            connection.execute(
                select(health_checks.c.component, health_checks.c.status).where(
                    health_checks.c.run_id == ATTEMPT.run_id
                )
            ).all()
        )
        audit = connection.execute(
            select(audit_log.c.action, audit_log.c.outcome, audit_log.c.detail).where(
                audit_log.c.trace_id == ATTEMPT.trace_id
            )
        ).all()
    return health, [tuple(row) for row in audit]


def test_every_component_is_measured_and_recorded_once_for_the_run(
    warehouse, ports, tmp_path
) -> None:
    checked = check_health(lambda: warehouse, EVERY, ports, ATTEMPT, now=NOW)
    again = check_health(lambda: warehouse, EVERY, ports, ATTEMPT, now=NOW)  # a retry

    up = ["warehouse", "object_store", "cache", "metadata_db", "spotify", "disk_space",
          "erasure_keys"]  # fmt: skip
    assert checked.as_result() == {"rows_written": 10, "up": up, "alerts_sent": 0}
    assert again.as_result() == checked.as_result()
    health, audit = _recorded(warehouse)
    assert health == {
        **dict.fromkeys(up, "up"),
        "scheduler": "off",
        "celery_workers": "off",
        "backups": "off",  # no backup recorded yet
    }
    assert audit == [("health_recorded", "up", None)]
    assert not list((tmp_path / "objects" / "_health").iterdir()), "the probe is deleted"


def test_a_component_down_is_recorded_paged_and_named_in_the_failure(
    warehouse, ports, pagerduty
) -> None:
    wrong = replace(ports, spotify=lambda: Spotify((False, "invalid_client")))
    pager = Pager(pagerduty, pagerduty.routing_key)

    with pytest.raises(HealthCheckFailed, match=r"down: spotify \(spotify: invalid_client\)"):
        check_health(
            lambda: warehouse, ["spotify", "cache"], wrong, ATTEMPT, pager=lambda: pager, now=NOW
        )

    health, audit = _recorded(warehouse)
    assert health == {"spotify": "down", "cache": "up"}
    assert audit == [("health_recorded", "down", "spotify")]
    assert pagerduty.by_key("spotify-agent/health/spotify") == ["trigger"]
    assert pagerduty.by_key("spotify-agent/health/cache") == ["resolve"]
    assert pagerduty.events[0]["payload"]["source"] == "airflow:health_check"


def test_a_warehouse_that_is_down_is_still_named_though_nothing_is_recorded(
    ports, tmp_path
) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database, just bytes" * 200)
    broken = replace(ports, warehouse_url=lambda: f"sqlite:///{corrupt}")

    def engine():
        raise RuntimeError("the warehouse connection cannot be built")

    with pytest.raises(HealthCheckFailed) as failed:
        check_health(engine, ["warehouse", "disk_space"], broken, ATTEMPT, now=NOW)

    assert [r.component for r in failed.value.down] == ["warehouse"]
    assert "DatabaseError: file is not a database" in str(failed.value)


def test_an_alert_refused_fails_at_once_after_the_results_are_recorded(
    warehouse, ports, pagerduty
) -> None:
    refused = Pager(pagerduty, "not-the-right-key")

    with pytest.raises(PermanentFailure, match="PagerDuty did not take: resolve .*HTTP 400"):
        check_health(lambda: warehouse, ["spotify"], ports, ATTEMPT, pager=lambda: refused)

    assert _recorded(warehouse)[0] == {"spotify": "up"}
    assert pagerduty.events == []
