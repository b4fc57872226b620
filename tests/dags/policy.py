"""DAG policy as code: what every DAG in this project must declare.

Each check returns human-readable violations; the tests run them on the real ``dags/`` folder
(which must have none) and on ``bad_dags/`` (each file must break exactly the check it is named
after), which proves the checks bite.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spotify_agent.core.run_conf import RunConf, field_schemas
from spotify_agent_airflow.defaults import APPROVED_TAGS, SPOTIFY_POOL

HEAVY_MODULES = ("torch", "librosa", "pandas", "numpy", "spotipy", "sklearn")
MIN_RETRIES = 2
# A DAG's page in the UI says what it does, when it runs and what it writes: a heading and a
# few sentences at least, never a stand-in.
MIN_DOC_WORDS = 40
PLACEHOLDERS = ("todo", "tbd", "fixme", "lorem ipsum", "xxx", "describe this dag")


def load_dagbag(folder: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def dag_violations(dag: Any, conf_models: Mapping[str, type[RunConf]]) -> list[str]:
    """Every rule a single DAG breaks, each prefixed by the rule's name."""
    problems: list[str] = []
    problems += doc_md_violations(dag)
    if not dag.tags:
        problems.append("tags: the DAG has no tags")
    unknown = sorted(set(dag.tags) - APPROVED_TAGS)
    if unknown:
        problems.append(f"tags: {unknown} are not in the approved set {sorted(APPROVED_TAGS)}")
    for task in dag.tasks:
        where = f"task {task.task_id}"
        if not task.owner or task.owner == "airflow":
            problems.append(f"owner: {where} has no owner (default_args() sets it)")
        if (task.retries or 0) < MIN_RETRIES:
            problems.append(f"retries: {where} has retries={task.retries}, needs >= {MIN_RETRIES}")
        if task.execution_timeout is None:
            problems.append(f"execution_timeout: {where} has none")
        if calls_spotify(task) and task.pool != SPOTIFY_POOL:
            problems.append(f"pool: {where} calls Spotify outside the {SPOTIFY_POOL!r} pool")
    problems += deadline_violations(dag)
    problems += params_violations(dag, conf_models)
    problems += [f"conf: {line}" for line in direct_conf_reads(Path(dag.fileloc))]
    return problems


def doc_md_violations(dag: Any) -> list[str]:
    doc = (dag.doc_md or "").strip()
    if not doc:
        return ["doc_md: the DAG has no documentation (use doc_md=__doc__)"]
    problems = []
    if doc.splitlines()[0].strip() != f"### {dag.dag_id}":
        problems.append(f"doc_md: it must open with the heading '### {dag.dag_id}'")
    if len(doc.split()) < MIN_DOC_WORDS:
        problems.append(
            f"doc_md: {len(doc.split())} words; say what the DAG does, when it runs and what "
            f"it writes (at least {MIN_DOC_WORDS})"
        )
    words = " " + re.sub(r"[^a-z0-9]+", " ", doc.lower()) + " "
    stand_ins = [p for p in PLACEHOLDERS if f" {p} " in words]
    if stand_ins:
        problems.append(f"doc_md: placeholder text {stand_ins}")
    return problems


def deadline_violations(dag: Any) -> list[str]:
    """A scheduled DAG pages when a run is late: ``run_deadline()`` gives the alert and the
    success callback that resolves it."""
    from spotify_agent_airflow.deadlines import DeadlineMetNotifier

    if dag.schedule is None:
        return []
    callbacks = dag.on_success_callback or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    if not dag.deadline or not any(isinstance(c, DeadlineMetNotifier) for c in callbacks):
        return ["deadline: a scheduled DAG needs **run_deadline(...) so that a late run pages"]
    paths = {alert.callback.path for alert in dag.deadline}
    if paths != {"spotify_agent_airflow.deadlines.page_missed_deadline"}:
        return [f"deadline: callbacks {sorted(paths)} are not the project's paging callback"]
    return []


def params_violations(dag: Any, conf_models: Mapping[str, type[RunConf]]) -> list[str]:
    model = conf_models.get(dag.dag_id)
    if model is None:
        return [f"params: no run-conf model registered for {dag.dag_id} in spotify_agent.run_confs"]
    declared = dict(dag.params.items())
    expected = field_schemas(model)
    problems = []
    if set(declared) != set(expected):
        problems.append(
            f"params: Params {sorted(declared)} differ from {model.__name__} fields {sorted(expected)}"
        )
    for name in sorted(declared):
        param = dag.params.get_param(name)
        if not (param.description or param.schema.get("description") or "").strip():
            problems.append(
                f"params: Param {name!r} has no description (the trigger form shows it)"
            )
    for name in set(declared) & set(expected):
        schema = dict(dag.params.get_param(name).schema)
        schema.pop("description", None)
        wanted = {k: v for k, v in expected[name].items() if k not in ("default", "description")}
        if schema != wanted:
            problems.append(
                f"params: Param {name!r} schema {schema} is not {model.__name__}'s {wanted}"
            )
    return problems


def calls_spotify(task: Any) -> bool:
    """A task talks to Spotify if its operator takes a Spotify connection or its callable uses the hook.

    Mapped tasks are judged by their operator class (the connection may be a mapped argument).
    """
    operator_class = getattr(task, "operator_class", None) or type(task)
    if (
        isinstance(operator_class, type)
        and "spotify_conn_id" in inspect.signature(operator_class.__init__).parameters
    ):
        return True
    callable_ = getattr(task, "python_callable", None)
    if callable_ is None:
        return False
    try:
        source = inspect.getsource(callable_)
    except (OSError, TypeError):
        return False
    return "SpotifyHook" in source or "spotipy" in source


def direct_conf_reads(path: Path) -> list[str]:
    """Reads of ``dag_run.conf`` in a DAG file: conf must come through Params and the conf model."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        is_attribute = isinstance(node, ast.Attribute) and node.attr == "conf"
        is_key = (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == "conf"
        )
        if is_attribute or is_key:
            found.append(
                f"{path.name}:{node.lineno} reads the run conf directly; declare Params and use read_conf()"
            )
    return found


def heavy_modules_after_parsing(folder: Path) -> list[str]:
    """Heavy modules in ``sys.modules`` after a fresh process parses ``folder`` (what the DAG processor pays)."""
    script = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"DagBag(dag_folder={str(folder)!r})\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY_MODULES)!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))
