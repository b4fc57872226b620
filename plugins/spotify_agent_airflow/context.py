"""What a task needs to know about its run: ids, trace id and the run's reference time."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from spotify_agent.core.trace import run_trace_id

if TYPE_CHECKING:
    # Imported when called: it pulls in SQLAlchemy and the warehouse schema, which DAG files that
    # import this module at parse time do not need (bench/parse_time.py).
    from spotify_agent.core.quarantine import RunRef


def trace_id_for(context: Any) -> str:
    """The run's trace id: the caller's (``params.trace_id``) or one derived from the run id."""
    dag_run = context["dag_run"]
    given = (context.get("params") or {}).get("trace_id")
    return run_trace_id(given, dag_id=dag_run.dag_id, run_id=dag_run.run_id)


def run_ref(context: Any) -> RunRef:
    from spotify_agent.core.quarantine import RunRef

    ti = context["ti"]
    return RunRef(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, trace_id=trace_id_for(context)
    )


def run_time(context: Any) -> datetime:
    """The run's reference time: its logical date, or when it was asked to run (manual runs)."""
    dag_run = context["dag_run"]
    reference: datetime = dag_run.logical_date or dag_run.run_after
    return reference


def interval_end(context: Any) -> datetime:
    """The end of the period a run describes, the same on every re-run of that run.

    The data interval's end; for runs without one (manual or Asset-triggered, ``logical_date``
    null), the start of the day the run was asked for, which is the end the day's scheduled
    runs use, so every family that reads the same day reads the same data.
    """
    end: datetime | None = context.get("data_interval_end")
    if end is not None:
        return end
    return run_time(context).replace(hour=0, minute=0, second=0, microsecond=0)


def announced_days(context: Any) -> list[date]:
    """The days the run's triggering Asset events announce in their extra (``day``: one date,
    ``days``: several; the analytics families' events), oldest first, each once. Several
    events can trigger one run (a day written late, then the next one)."""
    days: set[date] = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for asset_event in events:
            extra = asset_event.extra or {}
            values = [extra["day"]] if extra.get("day") else list(extra.get("days") or [])
            days.update(date.fromisoformat(str(value)) for value in values)
    return sorted(days)
