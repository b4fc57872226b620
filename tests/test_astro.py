"""What the Astro CLI would make of airflow_settings.yaml, read as it reads it: without
expanding ``${NAME}`` placeholders. docs/CONFIGURATION.md ("The Astro CLI") states the entries it
would apply as written; this keeps that statement true as the file changes."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import PROJECT_DIR

# The keys the Astro CLI reads (astro-cli settings/types.go: Connection, Pools, Variables).
ASTRO_KEYS = {
    "connections": {"conn_id", "conn_type", "conn_host", "conn_schema", "conn_login",
                    "conn_password", "conn_port", "conn_uri", "conn_extra", "conn_description"},
    "pools": {"pool_name", "pool_slot", "pool_description"},
    "variables": {"variable_name", "variable_value"},
}  # fmt: skip
NAME_KEY = {"connections": "conn_id", "pools": "pool_name", "variables": "variable_name"}
SINGULAR = {"connections": "connection", "pools": "pool", "variables": "variable"}


def raw_settings() -> dict:
    return yaml.safe_load((PROJECT_DIR / "airflow_settings.yaml").read_text())["airflow"]


def as_written(settings: dict) -> list[str]:
    """The entries with no placeholder in any value, as the docs name them."""
    return [
        f"{SINGULAR[kind]} `{entry[NAME_KEY[kind]]}`"
        for kind in ("connections", "pools", "variables")
        for entry in settings.get(kind, [])
        if "${" not in json.dumps(entry)
    ]


def test_the_docs_name_exactly_the_entries_the_astro_cli_would_apply_as_written() -> None:
    docs = (PROJECT_DIR / "docs" / "CONFIGURATION.md").read_text()
    stated = re.search(r"<!-- astro-as-written -->(.*?)<!-- /astro-as-written -->", docs, re.S)

    assert stated, "docs/CONFIGURATION.md lost its list of entries the Astro CLI applies as written"
    assert [part.strip() for part in stated.group(1).split(",")] == as_written(raw_settings())


def test_the_placeholder_finder_sees_a_placeholder_in_a_nested_extra() -> None:
    settings = {"connections": [{"conn_id": "a", "conn_extra": {"k": "${X:-y}"}},
                                {"conn_id": "b", "conn_host": "h"}]}  # fmt: skip
    assert as_written(settings) == ["connection `b`"]


def test_the_file_uses_only_keys_and_types_the_astro_cli_reads() -> None:
    settings = raw_settings()

    assert set(settings) <= set(ASTRO_KEYS)
    for kind, entries in settings.items():
        for entry in entries:
            assert set(entry) <= ASTRO_KEYS[kind], (kind, entry[NAME_KEY[kind]])
            # Astro decodes these into Go ints and strings: a placeholder there fails to load.
            for key in ("conn_port", "pool_slot"):
                assert key not in entry or isinstance(entry[key], int), (entry, key)
            if kind == "variables":
                assert isinstance(entry["variable_value"], str), entry
