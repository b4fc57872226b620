"""The shared ``@dag`` arguments: what every DAG of the project gets from ``dag_args``."""

from __future__ import annotations

from datetime import timedelta

from spotify_agent.maintenance.confs import HealthCheckConf
from spotify_agent_airflow.deadlines import DeadlineMetNotifier
from spotify_agent_airflow.defaults import START_DATE, dag_args


def test_dag_args_carry_the_start_deadline_task_defaults_and_params() -> None:
    args = dag_args(HealthCheckConf, deadline=timedelta(minutes=5), retries=2)

    assert set(args) == {
        "start_date",
        "catchup",
        "max_active_runs",
        "deadline",
        "on_success_callback",
        "default_args",
        "params",
    }
    assert (args["start_date"], args["catchup"], args["max_active_runs"]) == (START_DATE, False, 1)
    assert args["deadline"].interval == timedelta(minutes=5)
    (resolve,) = args["on_success_callback"]
    assert isinstance(resolve, DeadlineMetNotifier) and resolve.within == timedelta(minutes=5)
    assert args["default_args"]["retries"] == 2
    assert args["default_args"]["execution_timeout"] == timedelta(minutes=30)
    assert set(args["params"]) == set(HealthCheckConf.model_fields)
