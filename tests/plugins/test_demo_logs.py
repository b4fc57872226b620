"""`make demo` runs DAGs with `airflow dags test`, which writes no task-log file; the demo writes
each task's part of the console log where Airflow's log reader (the UI's) finds it for the try."""

from __future__ import annotations

import json
import sys

from spotify_agent_airflow.commands.demo_logs import task_sections

TRACE_ID = "5e" * 16

# Reads the run's task logs back the way the API server does for the UI's log view.
READ_BACK = """
import json, sys
from sqlalchemy import select
from airflow.models.taskinstance import TaskInstance
from airflow.utils.log.log_reader import TaskLogReader
from airflow.utils.session import create_session
from spotify_agent_airflow.commands.demo_logs import _run_with_trace_id, write_task_logs

written = write_task_logs("log_rotation", sys.argv[1], open(sys.argv[2]).read())
shown = {}
with create_session() as session:
    # This run's tasks only: the session's Airflow home holds other tests' log_rotation runs.
    run_id = _run_with_trace_id(session, "log_rotation", sys.argv[1])
    query = select(TaskInstance).where(
        TaskInstance.dag_id == "log_rotation", TaskInstance.run_id == run_id
    )
    for ti in session.scalars(query):
        chunks, _ = TaskLogReader().read_log_chunks(ti, 1, {})
        shown[ti.task_id] = [getattr(c, "event", str(c)) for c in chunks]
print(json.dumps({"written": [str(p) for p in written], "shown": shown}))
"""


def test_a_demo_run_s_task_logs_are_shown_by_airflow_s_log_reader(airflow_home, tmp_path) -> None:
    run = airflow_home.dags_test("log_rotation", {"trace_id": TRACE_ID})
    assert run.returncode == 0, run.stdout[-3000:]
    console = tmp_path / "log_rotation.log"
    console.write_text(run.stdout + run.stderr)

    read = airflow_home.run(sys.executable, "-c", READ_BACK, TRACE_ID, str(console))
    assert read.returncode == 0, read.stderr[-3000:]
    result = json.loads(read.stdout.strip().splitlines()[-1])

    assert len(result["written"]) == 2
    assert all(path.startswith(str(airflow_home.path / "logs")) for path in result["written"])
    rotate, clean = result["shown"]["rotate_task_logs"], result["shown"]["clean_metadata"]
    assert any("log rotation under" in line for line in rotate)
    # Each task shows its own lines only, from its own start marker on.
    assert any("[DAG TEST] starting task_id=clean_metadata" in line for line in clean)
    assert not any("[DAG TEST] starting task_id=rotate_task_logs" in line for line in clean)
    assert not any("log rotation under" in line for line in clean)


def test_each_try_of_a_task_gets_its_own_section() -> None:
    console = [
        "set-up line\n",
        "[DAG TEST] starting task_id=ingest map_index=2 [airflow]\n",
        "first try fails\n",
        "[DAG TEST] end task task_id=ingest map_index=2 [airflow] task_id=ingest\n",
        "[DAG TEST] starting task_id=summary map_index=-1 [airflow] task_id=ingest\n",
        "summary line\n",
        "[DAG TEST] end task task_id=summary map_index=-1\n",
        "[DAG TEST] starting task_id=ingest map_index=2\n",
        "second try works\n",
        "[DAG TEST] end task task_id=ingest map_index=2\n",
        "DagRun Finished\n",
    ]

    sections = task_sections(console)

    assert sorted(sections) == [("ingest", 2), ("summary", -1)]
    first, second = sections[("ingest", 2)]
    assert first[1:] == ["first try fails\n", console[3]]
    assert second[1] == "second try works\n"
    assert [line for line in sections[("summary", -1)][0] if "line" in line] == ["summary line\n"]
