"""A DAG whose tasks have no owner."""

from airflow.sdk import dag, task

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.defaults import START_DATE, default_args

args = default_args()
del args["owner"]


@dag(
    schedule=None,
    start_date=START_DATE,
    default_args=args,
    tags=["maintenance"],
    params=conf_params(RunConf),
    doc_md=__doc__,
)
def no_owner() -> None:
    @task
    def work() -> None: ...

    work()


no_owner()
