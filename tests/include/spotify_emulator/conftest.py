"""Fixtures of the emulator tests: one running emulator per tier, clients, and the OpenAPI spec.

The per-tier emulators are shared by the read-mostly tests (writes there only touch playlists the
test creates); tests that change server settings (faults, rate limits, revocations, expiry) start
their own small emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from spotify_emulator_support import Api, Validators, build_validators, shared_data_dir

from spotify_emulator.testing import EmulatorHandle, run_emulator


@pytest.fixture(scope="session")
def extended() -> Iterator[EmulatorHandle]:
    with run_emulator(tier="extended", seed=42) as handle:
        yield handle


@pytest.fixture(scope="session")
def development() -> Iterator[EmulatorHandle]:
    with run_emulator(tier="development", seed=42) as handle:
        yield handle


@pytest.fixture(scope="session")
def ext_api(extended: EmulatorHandle) -> Iterator[Api]:
    api = Api(extended)
    yield api
    api.close()


@pytest.fixture(scope="session")
def dev_api(development: EmulatorHandle) -> Iterator[Api]:
    api = Api(development)
    yield api
    api.close()


@pytest.fixture(params=["extended", "development"])
def tier_api(request: pytest.FixtureRequest) -> Api:
    """Each test using this runs once per tier."""
    name = "ext_api" if request.param == "extended" else "dev_api"
    api: Api = request.getfixturevalue(name)
    return api


@pytest.fixture(scope="session")
def raw_spec() -> dict[str, Any]:
    path = shared_data_dir() / "spotify-web-api" / "fixed-spotify-open-api.yml"
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="session")
def validators(raw_spec: dict[str, Any]) -> Validators:
    return build_validators(raw_spec)
