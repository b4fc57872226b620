"""
### undescribed_param

A DAG whose trace_id Param has its model's type and pattern but no description, so the trigger
form shows a bare field.

A fixture of the policy tests (tests/dags/test_policy.py): it keeps every rule of
tests/dags/policy.py but the one named above, so that the test proves the check for that
rule catches it. Nothing deploys it: no Airflow of this project reads tests/dags/bad_dags,
and its task does nothing.
"""

from airflow.sdk import Param, dag, task

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.defaults import START_DATE, default_args

PARAMS = conf_params(RunConf)
PARAMS["trace_id"] = Param(PARAMS["trace_id"].value, **dict(PARAMS["trace_id"].schema))


@dag(
    schedule=None,
    start_date=START_DATE,
    default_args=default_args(),
    tags=["maintenance"],
    params=PARAMS,
    doc_md=__doc__,
)
def undescribed_param() -> None:
    @task
    def work() -> None: ...

    work()


undescribed_param()
