"""Registers this package with Airflow (loaded from the plugins folder)."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from spotify_agent_airflow.listeners import audit


class SpotifyAgentPlugin(AirflowPlugin):
    name = "spotify_agent"
    listeners = [audit]

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The reports at ``/reports``. A property: only the API server reads it, and the app
        imports Airflow's API security (about a second) that task processes must not pay for."""
        from spotify_agent_airflow.reports_app import app
        from spotify_agent_airflow.urls import REPORTS_URL_PREFIX

        return [{"app": app, "url_prefix": REPORTS_URL_PREFIX, "name": "Listening reports"}]
