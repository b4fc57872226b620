"""
### placeholder_doc_md

TODO: describe this DAG.
"""

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
def placeholder_doc_md() -> None:
    @task
    def work() -> None: ...

    work()


placeholder_doc_md()
