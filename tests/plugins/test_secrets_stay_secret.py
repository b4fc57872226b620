"""Secrets planted where they live (the Spotify client secret and refresh token in a connection,
a sensitive variable, a PagerDuty routing key) appear in no log line, XCom, rendered template
field, audit row, warehouse row or stored object after real task runs that use them.

Airflow 3's masker has regressed before (apache/airflow 54540, 63921): this is the proof that
the current pins and our code keep them out."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from pathlib import Path

from spotify_emulator.config import (
    CatalogSpec,
    ClientApp,
    EmulatorConfig,
    RefreshGrant,
)
from spotify_emulator.testing import run_emulator
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
    client_secret = "cs-" + secrets.token_hex(12)  # pragma: allowlist secret
    refresh_token = "rt-" + secrets.token_hex(12)
    variable_secret = "vs-" + secrets.token_hex(12)  # pragma: allowlist secret
    routing_key = "rk-" + secrets.token_hex(12)
    planted = [client_secret, refresh_token, variable_secret, routing_key]
    config = EmulatorConfig(
        clients=(ClientApp("leak-test-client", client_secret),),
        refresh_tokens=(RefreshGrant(refresh_token, client_id="leak-test-client"),),
    )
    # Plays up to now, not the day's fixed instants: new to this session's warehouse even when
    # an earlier test ingested the day's plays, so listening_ingest has work to audit.
    catalog = CatalogSpec(history_end_ms=int(time.time() * 1000))
    outputs = []
    with (
        run_emulator(config=config, catalog=catalog) as spotify,
        run_pagerduty_receiver() as pagerduty,
    ):
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


def test_spotify_tokens_issued_at_run_time_are_masked() -> None:
    """Access tokens arrive at run time and spotipy's debug log prints each request's
    Authorization header, so the hook's token cache registers every token with Airflow's
    masker, and the Basic credentials of token requests too."""
    import base64

    from airflow.sdk._shared.secrets_masker import redact

    from spotify_agent_airflow.hooks.spotify import _masking_cache, mask_basic_credentials

    access, refreshed = "BQ-" + secrets.token_hex(16), "BQ-" + secrets.token_hex(16)
    cache = _masking_cache({"access_token": access, "expires_at": 0})
    cache.save_token_to_cache({"access_token": refreshed, "expires_at": 0})
    client_secret = "secret-" + secrets.token_hex(8)  # pragma: allowlist secret
    mask_basic_credentials("client-x", client_secret)
    basic = base64.b64encode(f"client-x:{client_secret}".encode()).decode()
    assert redact(f"Headers: {{'Authorization': 'Bearer {access}'}}") == (
        "Headers: {'Authorization': 'Bearer ***'}"
    )
    assert redact(f"Bearer {refreshed}") == "Bearer ***"
    assert redact(f"Authorization: Basic {basic}") == "Authorization: Basic ***"
