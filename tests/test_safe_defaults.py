"""Defaults an operator gets without asking: the UI and REST API are not served to the network."""

from __future__ import annotations

import os
import subprocess

import yaml

from tests.conftest import PROJECT_DIR


def _env_sh(name: str, **overrides: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__API")}
    result = subprocess.run(
        ["bash", "-c", f'. scripts/env.sh && printf %s "${name}"'],  # noqa: S607 - bash on PATH
        cwd=PROJECT_DIR,
        env={**env, **overrides},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_up_binds_the_api_server_to_loopback_unless_told_otherwise() -> None:
    assert _env_sh("AIRFLOW__API__HOST") == "127.0.0.1"
    assert _env_sh("AIRFLOW__API__HOST", AIRFLOW__API__HOST="0.0.0.0") == "0.0.0.0"  # noqa: S104


def test_compose_publishes_the_ui_on_loopback_by_default() -> None:
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yaml").read_text())
    assert compose["services"]["api-server"]["ports"] == ["${AIRFLOW_PUBLISH:-127.0.0.1}:8080:8080"]
