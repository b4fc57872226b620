"""
### mapped_spotify_without_pool

A DAG that maps a Spotify operator outside the spotify_api pool.

A fixture of the policy tests (tests/dags/test_policy.py): it keeps every rule of
tests/dags/policy.py but the one named above, so that the test proves the check for that
rule catches it. Nothing deploys it: no Airflow of this project reads tests/dags/bad_dags,
and its task does nothing.
"""

from airflow.sdk import dag

from spotify_agent.core.run_conf import RunConf
from spotify_agent_airflow.conf import conf_params
from spotify_agent_airflow.defaults import START_DATE, default_args
from spotify_agent_airflow.operators.artist_monitoring import ArtistSnapshotOperator


@dag(
    schedule=None,
    start_date=START_DATE,
    default_args=default_args(),
    tags=["spotify"],
    params=conf_params(RunConf),
    doc_md=__doc__,
)
def mapped_spotify_without_pool() -> None:
    ArtistSnapshotOperator.partial(task_id="snapshot").expand(
        artist_ids=[["0OdUWJ0sBjDrqHygGUXeCF"]]
    )


mapped_spotify_without_pool()
