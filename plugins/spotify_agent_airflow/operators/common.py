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


def add_up(results: Sequence[dict[str, int]]) -> dict[str, int]:
    """Totals of the tasks' counts (percentiles are not additive and are left out)."""
    totals: dict[str, int] = {"tasks": len(results)}
    for result in results:
        for key, value in result.items():
            if not key.endswith("_p95_ms"):
                totals[key] = totals.get(key, 0) + int(value)
    return totals


class SummariseOperator(BaseOperator):
    """Adds up the counts returned by upstream (mapped) tasks; declare the run's outlets here."""

    template_fields = ("results",)

    def __init__(self, *, results: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def execute(self, context: Any) -> dict[str, int]:
        groups = self.results if isinstance(self.results, list | tuple) else [self.results]
        flat: list[dict[str, int]] = []
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
        return totals
