from __future__ import annotations

from pathlib import Path

import pytest

from spotify_agent.core.settings_file import SettingsError, load_settings, parse_settings

PROJECT_DIR = Path(__file__).resolve().parents[3]


def test_project_settings_file_declares_what_the_dags_need() -> None:
    settings = load_settings(PROJECT_DIR / "airflow_settings.yaml", env={})
    connections = {c.conn_id: c for c in settings.connections}
    assert {"warehouse_default", "spotify_default", "aws_default", "redis_default"} <= set(
        connections
    )
    assert connections["warehouse_default"].conn_host == "var/warehouse.db"
    assert connections["redis_default"].conn_port == 6379
    assert [p.pool_name for p in settings.pools] == ["spotify_api"]
    variables = {v.variable_name: v.as_text() for v in settings.variables}
    assert variables["cache_backend"] == "none"


def test_environment_overrides_defaults_in_values() -> None:
    settings = load_settings(
        PROJECT_DIR / "airflow_settings.yaml",
        env={
            "SPOTIFY_CLIENT_SECRET": "from-env",  # pragma: allowlist secret
            "CACHE_BACKEND": "redis",
        },
    )
    spotify = next(c for c in settings.connections if c.conn_id == "spotify_default")
    assert spotify.conn_password == "from-env"  # pragma: allowlist secret
    assert {v.variable_name: v.as_text() for v in settings.variables}["cache_backend"] == "redis"


def test_unset_variable_without_default_is_an_error_naming_it() -> None:
    document = {
        "airflow": {"variables": [{"variable_name": "x", "variable_value": "${NOT_SET_ANYWHERE}"}]}
    }
    with pytest.raises(SettingsError, match="NOT_SET_ANYWHERE"):
        parse_settings(document, env={})


def test_bad_field_is_named_with_its_position() -> None:
    document = {
        "airflow": {
            "connections": [
                {"conn_id": "a", "conn_type": "postgres", "conn_port": 5432},
                {"conn_id": "b", "conn_type": "postgres", "conn_port": "not-a-port"},
            ]
        }
    }
    with pytest.raises(SettingsError, match=r"airflow\.connections\[1\]\.conn_port"):
        parse_settings(document, env={})


def test_astro_template_blank_entries_are_ignored_and_json_extra_accepted() -> None:
    document = {
        "airflow": {
            "connections": [
                {"conn_id": None, "conn_type": None, "conn_host": None, "conn_extra": None},
                {"conn_id": "x", "conn_type": "http", "conn_extra": '{"timeout": 3}'},
            ],
            "pools": [{"pool_name": "", "pool_slot": "", "pool_description": ""}],
            "variables": [{"variable_name": "cfg", "variable_value": {"b": 1, "a": [1, 2]}}],
        }
    }
    settings = parse_settings(document, env={})
    assert [c.conn_id for c in settings.connections] == ["x"]
    assert settings.connections[0].conn_extra == {"timeout": 3}
    assert settings.pools == []
    assert settings.variables[0].as_text() == '{"a": [1, 2], "b": 1}'


def test_missing_top_level_key_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("connections: []\n")
    with pytest.raises(SettingsError, match="top-level 'airflow:'"):
        load_settings(path, env={})
