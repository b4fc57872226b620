"""Celery queues by DAG family: Spotify jobs, ML jobs and everything else scale apart.

A DAG's family is its tag (``dags/<family>/``): ``ml`` tasks go to the ``ml`` queue (workers
with the cores and memory for librosa and torch), ``spotify`` tasks to ``spotify`` (workers whose
concurrency the Spotify rate limit bounds), the rest to ``default``. A task that names its own
queue keeps it. Applied as a cluster policy (``plugins/airflow_local_settings.py``) when the DAG
is parsed, so the scheduler sends each task where it belongs; LocalExecutor ignores queues.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DEFAULT_QUEUE = "default"
# In order of precedence: a DAG tagged both ml and spotify runs on the ml workers.
FAMILY_QUEUES: tuple[tuple[str, str], ...] = (("ml", "ml"), ("spotify", "spotify"))
QUEUES: tuple[str, ...] = (DEFAULT_QUEUE, *(queue for _, queue in FAMILY_QUEUES))


def queue_for(tags: Iterable[str]) -> str:
    present = set(tags)
    return next((queue for tag, queue in FAMILY_QUEUES if tag in present), DEFAULT_QUEUE)


def task_policy(task: Any) -> None:
    """Route ``task`` by its DAG's family unless it chose a queue itself."""
    from airflow.configuration import conf

    if task.queue != conf.get("operators", "default_queue", fallback=DEFAULT_QUEUE):
        return
    dag = getattr(task, "dag", None)
    task.queue = queue_for(dag.tags if dag is not None else ())
