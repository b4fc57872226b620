"""The ``health_check`` job: measure each component asked for, record the results with an audit
row, page per component, then fail once naming every component that is down.

Idempotent: results upsert on ``(run_id, component)``, so a retry replaces its run's rows; the
object-store probe's key derives from the run id; PagerDuty folds repeated triggers under one
dedup key per component, and every healthy component is resolved on every run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.pagerduty import AlertEvent, PagingFailed, PagingRefused
from spotify_agent.maintenance.health import (
    ComponentHealth,
    ConnectionTestable,
    HealthCheckFailed,
    Pingable,
    ProbePath,
    check_backups,
    check_cache,
    check_disk_space,
    check_erasure_keys,
    check_object_store,
    check_spotify,
    check_warehouse,
    down_components,
    health_alerts,
    record_health,
    run_checks,
)

if TYPE_CHECKING:
    from spotify_agent.maintenance.erasure_keys import Keyring

log = logging.getLogger(__name__)


class Pager(Protocol):
    """Where alerts go (``PagerDutyHook`` fits): raises ``PagingFailed`` when one is not taken."""

    def send(self, event: AlertEvent) -> Any: ...


@dataclass(frozen=True)
class HealthPorts:
    """How to reach each component. Every port is called inside its own check only, so one that
    cannot even be built (a missing connection) makes that component down, not the run fail."""

    warehouse_url: Callable[[], str | URL]
    objects: Callable[[], ProbePath]
    cache: Callable[[], Pingable | None]  # None: the deployment runs without a cache
    spotify: Callable[[], ConnectionTestable]
    volumes: Callable[[], Mapping[str, str | Path]]
    keyring: Callable[[], Keyring]
    # Airflow's own parts, measured where Airflow is (the plugins' health_probes).
    metadata_db: Callable[[], ComponentHealth]
    scheduler: Callable[[], ComponentHealth]
    celery_workers: Callable[[], ComponentHealth]


@dataclass(frozen=True)
class HealthChecked:
    """A run in which nothing was down and every alert was taken."""

    results: tuple[ComponentHealth, ...]
    rows_written: int
    alerts_sent: int

    def as_result(self) -> dict[str, Any]:
        """The task's return value (XCom)."""
        return {
            "rows_written": self.rows_written,
            "up": [r.component for r in self.results if r.status == "up"],
            "alerts_sent": self.alerts_sent,
        }

    def summary_line(self) -> str:
        up = sum(r.status == "up" for r in self.results)
        return (
            f"{up} of {len(self.results)} components up, none down; "
            f"{self.rows_written} rows recorded, {self.alerts_sent} alerts sent"
        )


def check_health(
    engine: Callable[[], Engine],
    components: Sequence[str],
    ports: HealthPorts,
    attempt: Attempt,
    *,
    pager: Callable[[], Pager | None] = lambda: None,
    now: datetime | None = None,
) -> HealthChecked:
    """Measure ``components``, record them, page, then raise :class:`HealthCheckFailed` naming
    every component down (or the paging error when an alert was not taken). ``engine`` and
    ``pager`` (None: paging is off) are called only once the results are in, so the results
    are measured and logged even when the warehouse or the pager's connection is broken."""
    checks = component_checks(ports, probe_name=probe_name(attempt.run_id), now=now)
    results = run_checks({name: checks[name] for name in components})
    for result in results:
        log.info(
            "%-12s %-4s %6s ms  %s",
            result.component,
            result.status,
            result.latency_ms if result.latency_ms is not None else "-",
            result.detail,
        )
    down = down_components(results)
    rows = _record(engine, results, down, attempt, now=now)
    paged, paging_failed = page_health(pager(), results, source=f"airflow:{attempt.dag_id}")
    if down:
        raise HealthCheckFailed(down)
    if paging_failed:
        # An alert that cannot go out must not look like a healthy run.
        raise paging_failed
    return HealthChecked(tuple(results), rows, paged)


def component_checks(
    ports: HealthPorts, *, probe_name: str, now: datetime | None = None
) -> dict[str, Callable[[], ComponentHealth]]:
    """Every component's check, by the name the run conf uses."""
    return {
        "warehouse": lambda: check_warehouse(ports.warehouse_url()),
        "object_store": lambda: check_object_store(ports.objects(), probe_name=probe_name),
        "cache": lambda: check_cache(ports.cache()),
        "metadata_db": ports.metadata_db,
        "scheduler": ports.scheduler,
        "celery_workers": ports.celery_workers,
        "spotify": lambda: check_spotify(ports.spotify()),
        "backups": lambda: check_backups(ports.warehouse_url(), now=now or datetime.now(UTC)),
        "disk_space": lambda: check_disk_space(ports.volumes()),
        "erasure_keys": lambda: check_erasure_keys(ports.warehouse_url(), ports.keyring()),
    }


def probe_name(run_id: str) -> str:
    """The object-store probe's name: the run's own, so a retry reuses it."""
    return f"{run_id}.txt".replace(":", "_").replace("+", "_")


def page_health(
    pager: Pager | None, results: Sequence[ComponentHealth], *, source: str
) -> tuple[int, Exception | None]:
    """Trigger an incident per component down, resolve the rest.

    Returns how many events the pager took, and the error to fail with if it did not take them
    all (a refusal fails at once, an outage goes through the retries).
    """
    if pager is None:
        down = sum(r.status == "down" for r in results)
        log.info("paging is off (no pagerduty_default connection); %d components down", down)
        return 0, None
    events = health_alerts(results, source=source)
    failed: list[str] = []
    refused = False
    for event in events:
        try:
            pager.send(event)
        except PagingFailed as error:
            log.error("PagerDuty %s", error)
            failed.append(str(error))
            refused = refused or isinstance(error, PagingRefused)
            continue
        log.info("PagerDuty %s %s", event.action, event.dedup_key)
    if not failed:
        return len(events), None
    message = "PagerDuty did not take: " + "; ".join(failed)
    return len(events) - len(failed), (
        PermanentFailure(message) if refused else RuntimeError(message)
    )


def _record(
    engine: Callable[[], Engine],
    results: list[ComponentHealth],
    down: list[ComponentHealth],
    attempt: Attempt,
    *,
    now: datetime | None,
) -> int:
    """Store the results with their audit row; when the warehouse is down, only log them."""
    try:
        with engine().begin() as connection:
            at = now or datetime.now(UTC)
            rows = record_health(
                connection,
                results,
                run_id=attempt.run_id,
                trace_id=attempt.trace_id,
                measured_at=at,
            )
            attempt.record(
                connection,
                "health_recorded",
                outcome="down" if down else "up",
                counts={"rows_written": rows, "components_down": len(down)},
                detail=", ".join(r.component for r in down) or None,
                at=at,
            )
            return rows
    except Exception:
        if not any(r.component == "warehouse" for r in down):
            raise
        log.exception("warehouse is down: results above were not recorded")
        return 0
