"""Health checks of the components every family depends on.

Each check returns a :class:`ComponentHealth` instead of raising, so one run measures every
component, records all of them, and then fails once with a message naming everything that is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import Connection, select, text
from sqlalchemy.engine import URL, make_url

from spotify_agent.core.errors import PermanentFailure
from spotify_agent.core.objects import ensure_parent
from spotify_agent.core.pagerduty import AlertEvent
from spotify_agent.warehouse.engine import make_engine, read_only_url
from spotify_agent.warehouse.schema import backups, health_checks
from spotify_agent.warehouse.upsert import upsert

if TYPE_CHECKING:
    from spotify_agent.maintenance.erasure_keys import Keyring

# The newest verified warehouse backup may be this old (a daily backup plus two hours' slack).
MAX_BACKUP_AGE = timedelta(hours=26)
# Below this share of free space on a volume the tasks write to (logs, staging), it is "down".
MIN_FREE_PCT = 10.0
Status = Literal["up", "down", "off"]
# One PagerDuty incident per component, whichever run sees it down.
HEALTH_DEDUP_PREFIX = "spotify-agent/health/"


@dataclass(frozen=True)
class ComponentHealth:
    component: str
    status: Status
    detail: str
    latency_ms: int | None = None


class HealthCheckFailed(RuntimeError):
    """Raised after recording, naming every component that is down and why."""

    def __init__(self, down: Sequence[ComponentHealth]) -> None:
        self.down = list(down)
        names = ", ".join(result.component for result in down)
        reasons = "; ".join(f"{result.component}: {result.detail}" for result in down)
        super().__init__(f"health check failed, down: {names} ({reasons})")


class ProbePath(Protocol):
    """What the object-store check needs: ``pathlib.Path`` and Airflow's ``ObjectStoragePath`` fit."""

    @property
    def parent(self) -> Any: ...
    def __truediv__(self, key: str) -> ProbePath: ...
    def write_text(self, data: str) -> Any: ...
    def read_text(self) -> str: ...
    def unlink(self) -> None: ...


def measure(component: str, check: Callable[[], ComponentHealth]) -> ComponentHealth:
    """Run ``check``, timing it; an exception becomes a ``down`` result carrying its message."""
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:  # noqa: BLE001 - any failure means the component is down
        result = ComponentHealth(component, "down", describe_error(error))
    if result.status == "off":
        return result
    elapsed = round((time.perf_counter() - started) * 1000)
    return ComponentHealth(result.component, result.status, result.detail, elapsed)


def describe_error(error: BaseException) -> str:
    """``Type: message`` of the root cause, on one line (SQLAlchemy's wrapper adds SQL and a link)."""
    cause = getattr(error, "orig", None) or error
    message = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {message}" if message else type(cause).__name__


def check_warehouse(url: str | URL, *, connect_timeout_s: int = 5) -> ComponentHealth:
    """Warehouse reachable read-only and migrated to the code's head revision.

    A missing SQLite file is reported, never created.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.is_file():
            return ComponentHealth(
                "warehouse", "down", f"SQLite file {path} does not exist (run `make migrate`)"
            )
    engine = make_engine(read_only_url(url), **_connect_args(url, connect_timeout_s))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            return _schema_health(connection)
    finally:
        engine.dispose()


def _schema_health(connection: Connection) -> ComponentHealth:
    # Alembic is imported here, not at module level: DAG files import this module's conf model.
    from spotify_agent.warehouse.migrate import current_revision, head_revision

    found, expected = current_revision(connection), head_revision()
    if found != expected:
        return ComponentHealth(
            "warehouse",
            "down",
            f"schema at revision {found or 'none'}, code expects {expected} (run `make migrate`)",
        )
    return ComponentHealth("warehouse", "up", f"{connection.dialect.name}, schema {found}")


def check_database(
    component: str, url: str | URL, *, connect_timeout_s: int = 5
) -> ComponentHealth:
    """Any SQL database answers ``SELECT 1`` (used for the Airflow metadata DB)."""
    url = make_url(url)
    engine = make_engine(read_only_url(url), **_connect_args(url, connect_timeout_s))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    return ComponentHealth(component, "up", url.get_backend_name())


def monitor_report(base_url: str, *, timeout_s: float = 5.0) -> tuple[str, dict[str, Any]]:
    """The API server's ``/api/v2/monitor/health`` answer (no authentication needed)."""
    import httpx

    url = base_url.rstrip("/") + "/api/v2/monitor/health"
    response = httpx.get(url, timeout=timeout_s)
    response.raise_for_status()
    return url, response.json()


def check_airflow_api(base_url: str, *, timeout_s: float = 5.0) -> ComponentHealth:
    """The metadata DB as the Airflow API server sees it (``/api/v2/monitor/health``).

    Airflow 3 blocks database access from task processes, so a scheduled health check asks the
    API server, which also reports scheduler, triggerer and DAG processor heartbeats.
    """
    url, report = monitor_report(base_url, timeout_s=timeout_s)
    status = (report.get("metadatabase") or {}).get("status")
    others = ", ".join(
        f"{name} {part.get('status')}"
        for name, part in sorted(report.items())
        if name != "metadatabase" and isinstance(part, dict)
    )
    detail = f"via {url}: metadatabase {status}" + (f"; {others}" if others else "")
    return ComponentHealth("metadata_db", "up" if status == "healthy" else "down", detail)


def scheduler_from_report(url: str, report: Mapping[str, Any]) -> ComponentHealth:
    """The scheduler's health as the API server reports it (heartbeat within Airflow's
    ``scheduler_health_check_threshold``); the DAG processor's and triggerer's go in the detail."""
    part = report.get("scheduler") or {}
    status = part.get("status")
    heartbeat = part.get("latest_scheduler_heartbeat")
    others = ", ".join(
        f"{name} {(report.get(name) or {}).get('status')}"
        for name in ("dag_processor", "triggerer")
        if name in report
    )
    detail = f"via {url}: scheduler {status}, last heartbeat {heartbeat}"
    detail += f"; {others}" if others else ""
    return ComponentHealth("scheduler", "up" if status == "healthy" else "down", detail)


def check_scheduler_heartbeat(
    url: str | URL, *, now: datetime, threshold: timedelta
) -> ComponentHealth:
    """The newest heartbeat of a running scheduler in the metadata DB's ``job`` table is recent.

    ``off`` when no scheduler is running (one stopped cleanly marks its job done; runs then come
    from ``airflow dags test``); ``down`` when a scheduler's job says running but its heartbeat
    stopped (a crashed or hung scheduler).
    """
    engine = make_engine(read_only_url(make_url(url)))
    try:
        with engine.connect() as connection:
            heartbeat = connection.execute(
                text(
                    "SELECT max(latest_heartbeat) FROM job "
                    "WHERE job_type = 'SchedulerJob' AND state = 'running'"
                )
            ).scalar()
    finally:
        engine.dispose()
    if heartbeat is None:
        return ComponentHealth(
            "scheduler", "off", "no scheduler is running against this metadata DB"
        )
    if isinstance(heartbeat, str):  # SQLite hands back text
        heartbeat = datetime.fromisoformat(heartbeat)
    if heartbeat.tzinfo is None:
        heartbeat = heartbeat.replace(tzinfo=now.tzinfo)
    age = (now - heartbeat).total_seconds()
    detail = f"last heartbeat {age:.0f} s ago (limit {threshold.total_seconds():g} s)"
    return ComponentHealth(
        "scheduler", "up" if age <= threshold.total_seconds() else "down", detail
    )


class CeleryApp(Protocol):
    @property
    def control(self) -> Any: ...


def check_celery_workers(
    app: CeleryApp | None, queues: Sequence[str], *, timeout_s: float = 3.0
) -> ComponentHealth:
    """Celery workers answer a broadcast, and every queue in ``queues`` has one consuming it.

    ``None`` means the deployment does not run the CeleryExecutor.
    """
    if app is None:
        return ComponentHealth("celery_workers", "off", "the executor is not CeleryExecutor")
    replies = app.control.inspect(timeout=timeout_s).active_queues() or {}
    if not replies:
        return ComponentHealth(
            "celery_workers", "down", f"no Celery worker answered within {timeout_s:g} s"
        )
    consumed = {
        worker: sorted(queue["name"] for queue in worker_queues)
        for worker, worker_queues in replies.items()
    }
    described = "; ".join(f"{w} ({', '.join(q)})" for w, q in sorted(consumed.items()))
    missing = sorted(set(queues) - {q for names in consumed.values() for q in names})
    if missing:
        return ComponentHealth(
            "celery_workers",
            "down",
            f"no worker consumes {', '.join(missing)}; answering: {described}",
        )
    return ComponentHealth("celery_workers", "up", f"{len(consumed)} answering: {described}")


def check_object_store(root: ProbePath, *, probe_name: str) -> ComponentHealth:
    """Write, read back and delete a small probe object under ``root``/_health/."""
    probe = root / "_health" / probe_name
    payload = f"probe {probe_name}"
    ensure_parent(probe)
    probe.write_text(payload)
    try:
        read = probe.read_text()
    finally:
        probe.unlink()
    if read != payload:
        return ComponentHealth("object_store", "down", f"probe {probe} read back different bytes")
    return ComponentHealth("object_store", "up", str(root))


def check_backups(
    url: str | URL, *, now: datetime, max_age: timedelta = MAX_BACKUP_AGE
) -> ComponentHealth:
    """The newest verified warehouse backup is younger than ``max_age`` (``off`` before any)."""
    engine = make_engine(read_only_url(make_url(url)))
    try:
        with engine.connect() as connection:
            newest = connection.execute(
                select(backups.c.backup_date, backups.c.verified_at)
                .where(backups.c.database == "warehouse", backups.c.status == "verified")
                .order_by(backups.c.verified_at.desc())
                .limit(1)
            ).first()
            attempted = connection.execute(select(backups.c.backup_date).limit(1)).first()
    finally:
        engine.dispose()
    if newest is None:
        if attempted is None:
            return ComponentHealth(
                "backups", "off", "no backup recorded yet (the backup DAG has not run)"
            )
        return ComponentHealth("backups", "down", "no backup has ever been verified")
    verified_at = newest.verified_at
    if verified_at.tzinfo is None:  # SQLite returns naive datetimes; they are stored in UTC
        verified_at = verified_at.replace(tzinfo=now.tzinfo)
    age = now - verified_at
    hours = age.total_seconds() / 3600
    detail = f"newest verified backup {newest.backup_date}, {hours:.1f} h old"
    if age > max_age:
        limit = max_age.total_seconds() / 3600
        return ComponentHealth("backups", "down", f"{detail} (limit {limit:g} h)")
    return ComponentHealth("backups", "up", detail)


def check_disk_space(
    paths: Mapping[str, str | Path], *, min_free_pct: float = MIN_FREE_PCT
) -> ComponentHealth:
    """Every volume the tasks write to keeps ``min_free_pct`` percent free."""
    import shutil

    parts, low = [], []
    for label, path in paths.items():
        usage = shutil.disk_usage(path)
        free_pct = 100.0 * usage.free / usage.total
        part = f"{label} {free_pct:.0f}% free ({usage.free // 2**30} GiB)"
        parts.append(part)
        if free_pct < min_free_pct:
            low.append(part)
    if low:
        return ComponentHealth(
            "disk_space", "down", f"below {min_free_pct:g}% free: " + "; ".join(low)
        )
    return ComponentHealth("disk_space", "up", "; ".join(parts))


def check_erasure_keys(url: str | URL, keyring: Keyring) -> ComponentHealth:
    """Every key the erasure log and hashed requests refer to is held: without one, erased
    listeners cannot be recognised (ingestion and restores stop, naming it)."""
    from spotify_agent.maintenance.erasure import referenced_key_ids

    engine = make_engine(read_only_url(make_url(url)))
    try:
        with engine.connect() as connection:
            referenced = referenced_key_ids(connection)
    finally:
        engine.dispose()
    if keyring.current is None and not referenced:
        return ComponentHealth(
            "erasure_keys", "off", f"no {keyring.source} connection and nothing erased yet"
        )
    try:
        keyring.require(referenced)
    except PermanentFailure as error:
        return ComponentHealth("erasure_keys", "down", error.reason)
    if keyring.current is None:
        detail = f"{keyring.source} has no current key: no erasure request can be recorded"
        return ComponentHealth("erasure_keys", "down", detail)
    detail = f"current key {keyring.current_id}; the log refers to {len(referenced)}, all held"
    return ComponentHealth("erasure_keys", "up", detail)


class Pingable(Protocol):
    def ping(self) -> Any: ...


def check_cache(client: Pingable | None) -> ComponentHealth:
    """Redis answers PING; ``None`` means this deployment runs without a cache."""
    if client is None:
        return ComponentHealth("cache", "off", "cache_backend is 'none': no cache configured")
    if not client.ping():
        return ComponentHealth("cache", "down", "PING did not answer PONG")
    return ComponentHealth("cache", "up", "redis PING ok")


class ConnectionTestable(Protocol):
    def test_connection(self) -> tuple[bool, str]: ...


def check_spotify(hook: ConnectionTestable) -> ComponentHealth:
    """A token from the accounts service and one cheap catalogue call."""
    ok, message = hook.test_connection()
    return ComponentHealth("spotify", "up" if ok else "down", message)


def run_checks(checks: Mapping[str, Callable[[], ComponentHealth]]) -> list[ComponentHealth]:
    return [measure(component, check) for component, check in checks.items()]


def down_components(results: Iterable[ComponentHealth]) -> list[ComponentHealth]:
    return [result for result in results if result.status == "down"]


def record_health(
    connection: Connection,
    results: Iterable[ComponentHealth],
    *,
    run_id: str,
    trace_id: str,
    measured_at: datetime,
) -> int:
    """Store one row per component for the run; a retry of the run replaces its rows."""
    rows = [
        {
            "run_id": run_id,
            "trace_id": trace_id,
            "component": result.component,
            "status": result.status,
            "latency_ms": result.latency_ms,
            "detail": result.detail,
            "measured_at": measured_at,
        }
        for result in results
    ]
    return upsert(connection, health_checks, rows, key=("run_id", "component"))


def health_alerts(results: Iterable[ComponentHealth], *, source: str) -> list[AlertEvent]:
    """A trigger for every component down, a resolve for every component up or off.

    Both are safe to repeat: PagerDuty folds triggers with one dedup key into one incident and
    drops a resolve for a key with nothing open. Resolving every healthy component on every run
    (rather than only what we remember triggering) means no resolve is ever lost, even when the
    warehouse that would have remembered was itself down.
    """
    events = []
    for result in results:
        dedup_key = HEALTH_DEDUP_PREFIX + result.component
        if result.status == "down":
            events.append(
                AlertEvent(
                    "trigger",
                    dedup_key,
                    summary=f"{result.component} is down: {result.detail}",
                    source=source,
                    severity="critical",
                    component=result.component,
                    group="health_check",
                    details={"detail": result.detail, "latency_ms": result.latency_ms},
                )
            )
        else:
            events.append(AlertEvent("resolve", dedup_key))
    return events


def _connect_args(url: URL, timeout_s: int) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql":
        return {"connect_args": {"connect_timeout": timeout_s}}
    return {}
