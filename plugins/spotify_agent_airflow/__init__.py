"""Airflow adapters of the Spotify AI-agent project: hooks, thin operators, listeners, DAG defaults.

Business logic lives in ``spotify_agent`` (``include/``); this package only connects it to Airflow.
"""
