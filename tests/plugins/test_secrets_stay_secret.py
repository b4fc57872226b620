"""Secrets planted where they live (the Spotify client secret and refresh token in a connection,
a sensitive variable, a PagerDuty routing key) appear in no log line, XCom, rendered template
field, audit row, warehouse row or stored object after real task runs that use them.

Airflow 3's masker has regressed before (apache/airflow 54540, 63921): this is the proof that
the current pins and our code keep them out."""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

from spotify_agent.spotify_emulator.config import ClientApp, EmulatorConfig, RefreshGrant
from spotify_agent.spotify_emulator.testing import run_emulator
from tests.receivers import run_pagerduty_receiver


def _dump(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return "\n".join(connection.iterdump())


def _files_text(root: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("utf-8", errors="replace")
        for path in root.rglob("*")
        if path.is_file()
    )


def test_planted_secrets_appear_nowhere(airflow_home) -> None:
    client_secret = "cs-" + secrets.token_hex(12)
    refresh_token = "rt-" + secrets.token_hex(12)
    variable_secret = "vs-" + secrets.token_hex(12)
    routing_key = "rk-" + secrets.token_hex(12)
    planted = [client_secret, refresh_token, variable_secret, routing_key]
    config = EmulatorConfig(
        clients=(ClientApp("leak-test-client", client_secret),),
        refresh_tokens=(RefreshGrant(refresh_token, client_id="leak-test-client"),),
    )
    outputs = []
    with run_emulator(config=config) as spotify, run_pagerduty_receiver() as pagerduty:
        pagerduty.routing_key = routing_key
        env = {
            "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(spotify.connection()),
            "AIRFLOW_VAR_SPOTIFY_API_SECRET": variable_secret,
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(pagerduty.connection()),
        }
        for dag_id, conf in (
            ("listening_ingest", {"sources": ["recently_played"]}),
            ("health_check", {"components": ["spotify"]}),
        ):
            result = airflow_home.airflow(
                "dags", "test", dag_id, "--conf", json.dumps(conf), extra_env=env
            )
            assert result.returncode == 0, result.stdout[-3000:]
            outputs.append(result.stdout + result.stderr)
    places = {
        "task logs (console of airflow dags test)": "\n".join(outputs),
        "task log files": _files_text(airflow_home.path / "logs"),
        "metadata DB (XCom, rendered fields, run conf)": _dump(airflow_home.path / "airflow.db"),
        "warehouse (audit rows, quarantine, results)": _dump(airflow_home.warehouse_path),
        "object store": _files_text(airflow_home.objects_path),
    }
    leaks = [
        f"{secret[:3]}... in {place}"
        for place, text in places.items()
        for secret in planted
        if secret in text
    ]
    assert not leaks, leaks
    # The runs did use them: Spotify answered this client and token, PagerDuty took this key.
    assert "listening_ingested" in _dump(airflow_home.warehouse_path)
    assert pagerduty.events and {e["routing_key"] for e in pagerduty.events} == {routing_key}
