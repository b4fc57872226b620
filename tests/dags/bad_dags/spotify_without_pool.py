"""
### spotify_without_pool

A DAG that calls Spotify outside the spotify_api pool.

A fixture of the policy tests (tests/dags/test_policy.py): it keeps every rule of
tests/dags/policy.py but the one named above, so that the test proves the check for that
rule catches it. Nothing deploys it: no Airflow of this project reads tests/dags/bad_dags,
and its task does nothing.
"""

from airflow.sdk import dag, task

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.defaults import START_DATE, default_args


@dag(
    schedule=None,
    start_date=START_DATE,
    default_args=default_args(),
    tags=["spotify"],
    params=conf_params(RunConf),
    doc_md=__doc__,
)
def spotify_without_pool() -> None:
    @task
    def fetch_artist() -> None:
        from spotify_agent_airflow.hooks.spotify import SpotifyHook  # type: ignore[import-not-found]

        SpotifyHook().artist("0TnOYISbd1XYRBk9myaseg")

    fetch_artist()


spotify_without_pool()
