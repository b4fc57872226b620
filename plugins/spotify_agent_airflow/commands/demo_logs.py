"""Task logs of the demo's runs, where the Airflow UI looks for them.

``airflow dags test`` runs every task in-process and prints its log to the console; it writes no
task-log file, so a demo run opened in the UI (``make up``) would show empty logs. The demo cuts
each run's console log at the ``[DAG TEST] starting task`` / ``end task`` lines and writes each
task's part to the file Airflow's own task-log handler reads for that try.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

START = re.compile(r"\[DAG TEST\] starting task_id=(?P<task_id>\S+) map_index=(?P<map_index>-?\d+)")
END = re.compile(r"\[DAG TEST\] end task task_id=\S+ map_index=-?\d+")

TaskKey = tuple[str, int]  # (task_id, map_index)


def task_sections(lines: Iterable[str]) -> dict[TaskKey, list[list[str]]]:
    """Each task's console lines, one list per try in the order they ran (a failed try that
    ``dags test`` runs again appears twice)."""
    sections: dict[TaskKey, list[list[str]]] = {}
    current: list[str] | None = None
    for line in lines:
        started = START.search(line)
        if started:
            current = []
            key = (started["task_id"], int(started["map_index"]))
            sections.setdefault(key, []).append(current)
        if current is not None:
            current.append(line)
        if END.search(line):
            current = None
    return sections


def write_task_logs(dag_id: str, trace_id: str, console_log: str) -> list[Path]:
    """Write the task logs of the ``dag_id`` run that carries ``trace_id`` in its conf; returns
    the files written (none when the run cannot be found, e.g. it failed before it started)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    sections = task_sections(console_log.splitlines(keepends=True))
    handler = _file_task_handler()
    written = []
    with create_session() as session:
        run_id = _run_with_trace_id(session, dag_id, trace_id)
        if run_id is None:
            return []
        query = select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
        )
        for ti in session.scalars(query):
            for try_number, lines in enumerate(sections.get((ti.task_id, ti.map_index), []), 1):
                path = Path(handler.local_base) / handler._render_filename(
                    ti, try_number, session=session
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("".join(lines))
                written.append(path)
    return written


def _run_with_trace_id(session: Any, dag_id: str, trace_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    recent = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(20)
    )
    return next(
        (run.run_id for run in recent if (run.conf or {}).get("trace_id") == trace_id), None
    )


def _file_task_handler() -> Any:
    """The handler the API server reads task logs with, so the path is the one it opens."""
    from airflow.utils.log.file_task_handler import FileTaskHandler
    from airflow.utils.log.log_reader import TaskLogReader

    handler = TaskLogReader().log_handler
    if isinstance(handler, FileTaskHandler):
        return handler
    from airflow.configuration import conf

    return FileTaskHandler(base_log_folder=conf.get("logging", "base_log_folder"))
