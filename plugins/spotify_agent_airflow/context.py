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


def partition_day(context: Any, day: date | None, *, week: bool = False) -> date:
    """The UTC day a partitioned run is for: its partition key (``YYYY-MM-DD``, or with ``week``
    a week's key ``YYYY-MM-DD (Www)`` naming its Monday). ``day`` (the conf's; with ``week``, any
    day of the week) is read only when the run has no key: ``airflow dags test`` cannot set
    one, nor can a trigger form. A ``day`` that names another day (week) than the key, or
    neither, fails at once without retries, naming the field."""
    from datetime import timedelta

    from airflow.sdk.exceptions import AirflowFailException

    if week and day is not None:
        day -= timedelta(days=day.weekday())
    key = context.get("partition_key")
    if not key:
        if day is None:
            raise AirflowFailException(
                "day: this run has no partition key; trigger it with one (REST: partition_key) "
                "or, under airflow dags test, give day (YYYY-MM-DD)"
            )
        return day
    keyed = date.fromisoformat(str(key)[:10])
    if day is not None and day != keyed:
        raise AirflowFailException(
            f"day: {day} differs from the run's partition key {key}; leave day out"
        )
    return keyed


def key_outlets_by_day(context: Any, outlets: Any, day: str) -> None:
    """Key the run's outlet events by ``day`` when the run has no partition key of its own
    (``airflow dags test``, a form trigger): a keyless event starts no partitioned consumer. A
    keyed run's events carry its key already."""
    if not context.get("partition_key"):
        for outlet in outlets:
            context["outlet_events"][outlet].add_partitions(day)
