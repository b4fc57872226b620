"""Operators every family uses.

DAG files use these small operators instead of ``@task`` where parse time matters: the ``@task``
decorator imports the standard provider's Python operators (packaging, ...), about 10 ms per DAG
file that ``bench/parse_time.py`` holds against a 1.5x budget.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

log = logging.getLogger(__name__)


class WarehouseOperator(BaseOperator):
    """An operator whose job works on the warehouse; ``warehouse_conn_id`` names its connection,
    as ``conn_id`` does on Airflow's SQL operators."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def warehouse_engine(self) -> Any:
        """The engine of ``warehouse_conn_id`` (one per process, shared by the task's work)."""
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        return WarehouseHook(self.warehouse_conn_id).get_engine()


def progress_every_s() -> float:
    """``[spotify_agent] progress_every_s`` (``AIRFLOW__SPOTIFY_AGENT__PROGRESS_EVERY_S``): how
    often, in seconds, a long job (training, audio analysis, backup, aggregation) logs how far
    it is; 30 by default, 0 logs every step."""
    from airflow.sdk import conf

    from spotify_agent.core.progress import DEFAULT_EVERY_S

    every_s = conf.getfloat("spotify_agent", "progress_every_s", fallback=DEFAULT_EVERY_S)
    if not every_s >= 0:
        raise ValueError(f"[spotify_agent] progress_every_s: {every_s} is not 0 or more")
    return every_s


def add_up(results: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Totals of the tasks' counts (percentiles are not additive and are left out, and so are
    ``partitions``)."""
    totals: dict[str, int] = {"tasks": len(results)}
    for result in results:
        for key, value in result.items():
            if not key.endswith("_p95_ms") and key != "partitions":
                totals[key] = totals.get(key, 0) + int(value)
    return totals


def partitions_of(results: Sequence[dict[str, Any]]) -> list[str]:
    """The partition keys the tasks say they changed (their ``partitions``), sorted, each once."""
    return sorted({str(key) for result in results for key in result.get("partitions") or ()})


class SummariseOperator(BaseOperator):
    """Adds up the counts returned by upstream (mapped) tasks; declare the run's outlets here.
    When the tasks name the partitions they changed (``partitions`` in their results), the
    outlets' events carry those partition keys, so partitioned consumers run once per key."""

    template_fields = ("results",)

    def __init__(self, *, results: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def execute(self, context: Any) -> dict[str, Any]:
        groups = self.results if isinstance(self.results, list | tuple) else [self.results]
        flat: list[dict[str, Any]] = []
        for group in groups:
            if group is None:  # an upstream mapped over nothing was skipped
                continue
            if isinstance(group, dict):
                flat.append(group)
                continue
            # Index by length: iterating a lazy XCom sequence probes one past the end (a logged 404).
            flat.extend(group[index] for index in range(len(group)))
        from spotify_agent.core.numbers import counts_text

        totals = add_up(flat)
        tasks = totals["tasks"]
        log.info("run totals of %d tasks: %s", tasks, counts_text(totals, always=0) or "none")
        keys = partitions_of(flat)
        if keys:
            log.info("partitions changed: %s", ", ".join(keys))
            for outlet in self.outlets:
                context["outlet_events"][outlet].add_partitions(keys)
        return {**totals, "partitions": keys} if keys else totals


class StartDagRunOperator(BaseOperator):
    """Starts one run of ``trigger_dag_id``, without waiting for it, sharing this run's trace id,
    as the standard provider's ``TriggerDagRunOperator`` does (without importing it at parse
    time: about 0.4 s). A re-run of the task starts no second run.

    Why: Airflow 3.3 never queues a DAG that is not partitioned from an Asset event that carries
    a partition key, and every event of a partitioned run does."""

    def __init__(self, *, trigger_dag_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import DagRunTriggerException

        from spotify_agent_airflow.context import trace_id_for

        dag_run = context["dag_run"]
        raise DagRunTriggerException(
            trigger_dag_id=self.trigger_dag_id,
            dag_run_id=f"{dag_run.dag_id}__{dag_run.run_id}"[:250],
            conf={"trace_id": trace_id_for(context)},
            logical_date=None,
            reset_dag_run=False,
            skip_when_already_exists=True,
            wait_for_completion=False,
            allowed_states=["success"],
            failed_states=["failed"],
            poke_interval=60,
            deferrable=False,
        )
