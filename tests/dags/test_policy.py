"""Every DAG keeps the project's policy, and the policy checks catch each kind of bad DAG."""

from __future__ import annotations

from pathlib import Path

import pytest

from spotify_agent.core.run_conf import RunConf
from spotify_agent.run_confs import CONF_MODELS
from tests.dags.policy import dag_violations, heavy_modules_after_parsing, load_dagbag

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
BAD_DAGS_DIR = Path(__file__).with_name("bad_dags")

# Each bad fixture breaks exactly one rule.
BAD_DAG_RULES = {
    "no_owner": "owner",
    "unapproved_tag": "tags",
    "low_retries": "retries",
    "no_execution_timeout": "execution_timeout",
    "no_doc_md": "doc_md",
    "placeholder_doc_md": "doc_md",
    "undescribed_param": "params",
    "no_deadline": "deadline",
    "undeclared_params": "params",
    "reads_conf_directly": "conf",
    "spotify_without_pool": "pool",
    "mapped_spotify_without_pool": "pool",
}


@pytest.fixture(scope="module")
def dagbag():
    return load_dagbag(DAGS_DIR)


def test_every_dag_file_imports_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAGs found"


def test_every_dag_keeps_the_policy(dagbag) -> None:
    problems = {dag_id: dag_violations(dag, CONF_MODELS) for dag_id, dag in dagbag.dags.items()}
    assert {dag_id: found for dag_id, found in problems.items() if found} == {}


def test_one_dag_per_file_named_after_it(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id
        assert Path(dag.fileloc).parent.parent == DAGS_DIR, "DAGs live in dags/<domain>/"


def test_every_dag_has_a_conf_model_and_every_model_a_dag(dagbag) -> None:
    assert set(CONF_MODELS) == set(dagbag.dags)


def test_parsing_all_dags_imports_no_heavy_library() -> None:
    assert heavy_modules_after_parsing(DAGS_DIR) == []


@pytest.mark.parametrize(("stem", "rule"), sorted(BAD_DAG_RULES.items()))
def test_policy_catches_bad_dag(stem: str, rule: str) -> None:
    dagbag = load_dagbag(BAD_DAGS_DIR / f"{stem}.py")
    assert dagbag.import_errors == {}
    dag = dagbag.dags[stem]
    problems = dag_violations(dag, {**CONF_MODELS, stem: RunConf})
    assert {problem.split(":", 1)[0] for problem in problems} == {rule}, problems


def test_a_stand_in_doc_and_a_bare_param_are_named_for_what_they_lack() -> None:
    placeholder = load_dagbag(BAD_DAGS_DIR / "placeholder_doc_md.py").dags["placeholder_doc_md"]
    bare = load_dagbag(BAD_DAGS_DIR / "undescribed_param.py").dags["undescribed_param"]

    doc_problems = dag_violations(placeholder, {"placeholder_doc_md": RunConf})
    assert any("placeholder text ['todo', 'describe this dag']" in p for p in doc_problems)
    assert any("words;" in p for p in doc_problems)
    assert dag_violations(bare, {"undescribed_param": RunConf}) == [
        "params: Param 'trace_id' has no description (the trigger form shows it)"
    ]


def test_policy_catches_a_heavy_top_level_import() -> None:
    path = BAD_DAGS_DIR / "heavy_import.py"
    assert "pandas" in heavy_modules_after_parsing(path)
    dag = load_dagbag(path).dags["heavy_import"]
    assert dag_violations(dag, {**CONF_MODELS, "heavy_import": RunConf}) == []


def test_policy_catches_an_import_error() -> None:
    dagbag = load_dagbag(BAD_DAGS_DIR / "import_error.py")
    assert dagbag.dags == {}
    (message,) = dagbag.import_errors.values()
    assert "NO_SUCH_DEFAULT" in message


def test_every_task_is_routed_to_its_familys_celery_queue(dagbag) -> None:
    from spotify_agent_airflow.queues import QUEUES, queue_for

    routed = {
        (dag_id, task.task_id): (task.queue, queue_for(dag.tags))
        for dag_id, dag in dagbag.dags.items()
        for task in dag.tasks
    }

    assert {queue for queue, _ in routed.values()} == set(QUEUES)  # every queue has work
    assert {key: pair for key, pair in routed.items() if pair[0] != pair[1]} == {}
    assert routed[("audio_analysis", "analyse_batch")][0] == "ml"
    assert routed[("playlist_update", "sync_playlist")][0] == "spotify"
    assert routed[("backup", "back_up_warehouse")][0] == "default"


def test_a_task_that_names_its_own_queue_keeps_it() -> None:
    from airflow.sdk import DAG, BaseOperator

    from spotify_agent_airflow.queues import task_policy

    with DAG("routing_probe", schedule=None, tags=["ml"]):
        own, routed = BaseOperator(task_id="own", queue="gpu"), BaseOperator(task_id="routed")
    task_policy(own)
    task_policy(routed)

    assert (own.queue, routed.queue) == ("gpu", "ml")
