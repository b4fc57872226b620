"""Registers this package with Airflow (loaded from the plugins folder)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from spotify_agent_airflow.listeners import audit


class SpotifyAgentPlugin(AirflowPlugin):
    name = "spotify_agent"
    listeners = [audit]
