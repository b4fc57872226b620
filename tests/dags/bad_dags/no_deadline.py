from airflow.sdk import dag, task

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.defaults import START_DATE, default_args


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=["maintenance"],
    params=conf_params(RunConf),
    doc_md="Scheduled, but nobody hears when a run is late.",
)
def no_deadline() -> None:
    @task
    def work() -> None: ...

    work()


no_deadline()
