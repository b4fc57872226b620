"""Cluster policies; Airflow imports this module at start-up (the plugins folder is on its path)."""

from spotify_agent_airflow.queues import task_policy

__all__ = ["task_policy"]
