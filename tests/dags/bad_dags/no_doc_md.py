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
)
def no_doc_md() -> None:
    @task
    def work() -> None: ...

    work()


no_doc_md()
