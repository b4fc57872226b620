"""``airflow_settings.yaml`` (the Astro CLI format), parsed and validated without Airflow.

One file configures connections, variables and pools for Astro users (``astro dev start`` reads it)
and for plain Airflow (our ``apply-settings`` command). ``${NAME}`` and ``${NAME:-default}`` in any
string value are replaced from the environment, so production secrets need not live in the file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spotify_agent.core.run_conf import describe_errors

_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class SettingsError(ValueError):
    """The settings file is unreadable or a field is wrong; the message names the field."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionSpec(_Spec):
    conn_id: str = Field(min_length=1)
    conn_type: str = Field(min_length=1)
    conn_host: str | None = None
    conn_schema: str | None = None
    conn_login: str | None = None
    conn_password: str | None = None
    conn_port: int | None = None
    conn_extra: dict[str, Any] | None = None
    conn_description: str | None = None

    @field_validator("conn_extra", mode="before")
    @classmethod
    def _extra_as_mapping(cls, value: Any) -> Any:
        # Astro accepts the extra as a mapping or as a JSON string.
        if isinstance(value, str) and value.strip():
            return json.loads(value)
        return value or None


class PoolSpec(_Spec):
    pool_name: str = Field(min_length=1)
    pool_slot: int = Field(ge=0)
    pool_description: str | None = None


class VariableSpec(_Spec):
    variable_name: str = Field(min_length=1)
    variable_value: Any = None

    def as_text(self) -> str:
        """Airflow stores variables as text: mappings and lists as JSON."""
        value = self.variable_value
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True)
        return "" if value is None else str(value)


class AirflowSettings(_Spec):
    connections: list[ConnectionSpec] = Field(default_factory=list)
    pools: list[PoolSpec] = Field(default_factory=list)
    variables: list[VariableSpec] = Field(default_factory=list)


def expand_env(value: Any, env: Mapping[str, str]) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string inside ``value``."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise SettingsError(f"environment variable {name} is not set (used as ${{{name}}})")

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, dict):
        return {key: expand_env(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_env(item, env) for item in value]
    return value


def parse_settings(document: Any, env: Mapping[str, str] | None = None) -> AirflowSettings:
    if not isinstance(document, dict) or "airflow" not in document:
        raise SettingsError("the settings file must have a top-level 'airflow:' mapping")
    body = document["airflow"] or {}
    # Astro's template ships empty entries (every key blank) as examples: ignore those.
    for section in ("connections", "pools", "variables"):
        entries = body.get(section) or []
        body[section] = [
            entry for entry in entries if any(v not in (None, "") for v in entry.values())
        ]
    body = expand_env(body, os.environ if env is None else env)
    try:
        return AirflowSettings.model_validate(body)
    except ValidationError as error:
        raise SettingsError(
            "; ".join(f"airflow.{line}" for line in describe_errors(error))
        ) from None


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> AirflowSettings:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"cannot read {path}: {error}") from None
    return parse_settings(document, env)
