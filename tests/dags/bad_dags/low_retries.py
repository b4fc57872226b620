"""A DAG with a task that retries only once."""

from airflow.sdk import dag, task

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.defaults import START_DATE, default_args


@dag(
    schedule=None,
    start_date=START_DATE,
    default_args=default_args(),
    tags=["maintenance"],
    params=conf_params(RunConf),
    doc_md=__doc__,
)
def low_retries() -> None:
    @task(retries=1)
    def work() -> None: ...

    work()


low_retries()
