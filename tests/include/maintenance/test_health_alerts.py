"""Paging on health: events sent to a real HTTP receiver; previous statuses from a real warehouse;
Celery workers answering through real Redis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from spotify_agent.core.pagerduty import AlertEvent, PagingFailed, PagingRefused, send_event
from spotify_agent.maintenance.health import (
    HEALTH_DEDUP_PREFIX,
    ComponentHealth,
    check_celery_workers,
    health_alerts,
    scheduler_from_report,
)
from tests.receivers import PagerDutyReceiver, run_pagerduty_receiver

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyReceiver]:
    with run_pagerduty_receiver() as receiver:
        yield receiver


def test_a_component_down_triggers_under_its_own_stable_key_and_the_rest_resolve() -> None:
    results = [
        ComponentHealth("warehouse", "down", "DatabaseError: file is not a database", 3),
        ComponentHealth("cache", "up", "redis PING ok", 1),
        ComponentHealth("spotify", "off", "not configured"),
    ]
    trigger, *resolves = health_alerts(results, source="airflow:health_check")
    assert (trigger.action, trigger.dedup_key) == ("trigger", HEALTH_DEDUP_PREFIX + "warehouse")
    assert trigger.summary == "warehouse is down: DatabaseError: file is not a database"
    assert trigger.severity == "critical" and trigger.component == "warehouse"
    assert [(e.action, e.dedup_key) for e in resolves] == [
        ("resolve", HEALTH_DEDUP_PREFIX + "cache"),
        ("resolve", HEALTH_DEDUP_PREFIX + "spotify"),
    ]
    # The next run that still sees it down uses the same key: one incident, not one per run.
    (again, *_) = health_alerts(results, source="airflow:health_check")
    assert again.dedup_key == trigger.dedup_key


def test_events_reach_the_receiver_as_pagerduty_expects(pagerduty) -> None:
    trigger = AlertEvent(
        "trigger", "spotify-agent/health/cache", summary="cache is down", component="cache"
    )
    key = send_event(trigger, routing_key=pagerduty.routing_key, base_url=pagerduty.url)
    send_event(
        AlertEvent("resolve", key), routing_key=pagerduty.routing_key, base_url=pagerduty.url
    )
    first, second = pagerduty.events
    assert first["payload"] == {
        "summary": "cache is down",
        "source": "spotify-agent-airflow",
        "severity": "error",
        "component": "cache",
        "custom_details": {},
    }
    assert second == {
        "routing_key": pagerduty.routing_key,
        "event_action": "resolve",
        "dedup_key": "spotify-agent/health/cache",
    }


def test_a_refused_event_raises_with_the_reason_but_not_the_key(pagerduty) -> None:
    wrong = "wrong-routing-key-" + secrets.token_hex(8)
    with pytest.raises(PagingRefused, match="HTTP 400.*Invalid routing key") as error:
        send_event(
            AlertEvent("trigger", "k", summary="s"), routing_key=wrong, base_url=pagerduty.url
        )
    assert wrong not in str(error.value)
    with pytest.raises(PagingFailed, match="ConnectionError") as outage:
        send_event(
            AlertEvent("resolve", "k"), routing_key="k", base_url="http://127.0.0.1:9", timeout_s=2
        )
    assert not isinstance(outage.value, PagingRefused)  # an outage is worth retrying


def test_the_api_servers_report_gives_the_scheduler_status() -> None:
    report = {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": "2026-11-26T09:00:00Z"},
        "dag_processor": {"status": "healthy"},
    }
    result = scheduler_from_report("http://api/api/v2/monitor/health", report)
    assert result.status == "down"
    assert "last heartbeat 2026-11-26T09:00:00Z" in result.detail
    assert "dag_processor healthy" in result.detail


@pytest.fixture(scope="module")
def celery_app(redis_url):
    from celery import Celery

    # A database of its own so the broadcast reaches only this test's workers.
    broker = redis_url.rsplit("/", 1)[0] + "/13"
    app = Celery("health-test", broker=broker, backend=broker)
    app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)
    return app


def test_celery_workers_answering_on_every_queue(celery_app) -> None:
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        celery_app, queues=["default", "spotify"], perform_ping_check=False, shutdown_timeout=10
    ):
        result = check_celery_workers(celery_app, ["default", "spotify"], timeout_s=2)
        assert result.status == "up", result.detail
        assert "1 answering" in result.detail and "default, spotify" in result.detail
        missing = check_celery_workers(celery_app, ["default", "ml"], timeout_s=2)
        assert missing.status == "down"
        assert missing.detail.startswith("no worker consumes ml")


def test_no_celery_worker_answering_is_down_and_no_celery_is_off(celery_app) -> None:
    result = check_celery_workers(celery_app, ["default"], timeout_s=1)
    assert (result.status, result.detail) == ("down", "no Celery worker answered within 1 s")
    assert check_celery_workers(None, ["default"]).status == "off"
