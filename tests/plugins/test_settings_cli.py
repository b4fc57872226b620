"""`apply-settings` configures a plain Airflow from airflow_settings.yaml, idempotently, and never
overwrites what an operator configured unless told to (`--force`)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def test_reapplying_changes_nothing(airflow_home) -> None:
    result = airflow_home.cli("apply-settings")
    assert result.returncode == 0, result.stderr
    assert "0 created, 0 updated, 0 kept as configured, 11 unchanged" in result.stdout


def test_connections_pools_and_variables_land_in_airflow(airflow_home) -> None:
    result = airflow_home.airflow("connections", "get", "redis_default", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert "port: '6379'" in result.stdout or "port: 6379" in result.stdout
    pools = airflow_home.airflow("pools", "get", "spotify_api", "-o", "yaml")
    assert "slots: '4'" in pools.stdout or "slots: 4" in pools.stdout
    variable = airflow_home.airflow("variables", "get", "cache_backend")
    assert variable.stdout.strip().splitlines()[-1] == "none"


def _tier(airflow_home) -> str:
    got = airflow_home.airflow("connections", "get", "spotify_default", "-o", "json")
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout[got.stdout.index("[") :])[0]["extra_dejson"]["tier"]


def test_a_connection_the_operator_changed_is_kept_unless_forced(airflow_home) -> None:
    # What an operator does: re-run `make init` with another value in the environment.
    kept = airflow_home.cli("apply-settings", extra_env={"SPOTIFY_TIER": "development"})
    assert kept.returncode == 0, kept.stderr
    assert "0 updated, 1 kept as configured, 10 unchanged" in kept.stdout
    assert "connection spotify_default differs from the file: left as configured" in kept.stdout
    assert _tier(airflow_home) == "extended"

    forced = airflow_home.cli(
        "apply-settings", "--force", extra_env={"SPOTIFY_TIER": "development"}
    )
    assert "1 updated" in forced.stdout
    assert "overwrote connection spotify_default with the file's value (--force)" in forced.stdout
    assert _tier(airflow_home) == "development"
    # The operator's value now stays through a plain re-apply, until forced back.
    assert "1 kept as configured" in airflow_home.cli("apply-settings").stdout
    assert _tier(airflow_home) == "development"
    assert "1 updated" in airflow_home.cli("apply-settings", "--force").stdout
    assert _tier(airflow_home) == "extended"


def test_a_bad_settings_file_is_refused_naming_the_field(airflow_home, tmp_path: Path) -> None:
    bad = tmp_path / "airflow_settings.yaml"
    bad.write_text(yaml.safe_dump({"airflow": {"pools": [{"pool_name": "p", "pool_slot": -3}]}}))
    result = airflow_home.cli("apply-settings", "--file", str(bad))
    assert result.returncode == 2
    assert "airflow.pools[0].pool_slot" in result.stderr
