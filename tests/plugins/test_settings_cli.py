"""`apply-settings` configures a plain Airflow from airflow_settings.yaml, idempotently."""

from __future__ import annotations

from pathlib import Path

import yaml


def test_reapplying_changes_nothing(airflow_home) -> None:
    result = airflow_home.cli("apply-settings")
    assert result.returncode == 0, result.stderr
    assert "0 created, 0 updated, 11 unchanged" in result.stdout


def test_connections_pools_and_variables_land_in_airflow(airflow_home) -> None:
    result = airflow_home.airflow("connections", "get", "redis_default", "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert "port: '6379'" in result.stdout or "port: 6379" in result.stdout
    pools = airflow_home.airflow("pools", "get", "spotify_api", "-o", "yaml")
    assert "slots: '4'" in pools.stdout or "slots: 4" in pools.stdout
    variable = airflow_home.airflow("variables", "get", "cache_backend")
    assert variable.stdout.strip().splitlines()[-1] == "none"


def test_an_environment_override_updates_only_what_changed(airflow_home) -> None:
    changed = airflow_home.cli("apply-settings", extra_env={"SPOTIFY_TIER": "development"})
    assert (
        "0 created, 1 updated, 10 unchanged (updated: connection spotify_default)" in changed.stdout
    )
    restored = airflow_home.cli("apply-settings")
    assert "1 updated" in restored.stdout


def test_a_bad_settings_file_is_refused_naming_the_field(airflow_home, tmp_path: Path) -> None:
    bad = tmp_path / "airflow_settings.yaml"
    bad.write_text(yaml.safe_dump({"airflow": {"pools": [{"pool_name": "p", "pool_slot": -3}]}}))
    result = airflow_home.cli("apply-settings", "--file", str(bad))
    assert result.returncode == 2
    assert "airflow.pools[0].pool_slot" in result.stderr
