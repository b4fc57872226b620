"""A DAG file that fails to import."""

from airflow.sdk import dag

from spotify_agent_airflow.defaults import NO_SUCH_DEFAULT  # noqa: F401


@dag(schedule=None)
def import_error() -> None: ...


import_error()
