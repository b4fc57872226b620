"""`make test`'s preflight: every missing prerequisite named in one message, with its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_DIR

PREFLIGHT = PROJECT_DIR / "scripts" / "preflight.py"


def _preflight(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PREFLIGHT), *args],
        env={**os.environ, "PREFLIGHT_NO_INSTALL": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _fake_tool(folder: Path, name: str, version_line: str) -> str:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)
    return str(path)


def test_this_machine_is_ready(postgres_server_url, redis_url) -> None:
    result = _preflight(sys.executable)

    assert result.returncode == 0, result.stderr
    assert "ready" in result.stdout


def test_everything_missing_is_named_at_once_with_how_to_get_it(tmp_path) -> None:
    result = _preflight(
        sys.executable,
        env={
            "TEST_POSTGRES_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/postgres",
            "TEST_REDIS_URL": "redis://127.0.0.1:2/0",
            "PREFLIGHT_CHROMIUM": str(tmp_path / "no-chromium"),
            "PREFLIGHT_PROMTOOL": str(tmp_path / "no-promtool"),
        },
    )

    assert result.returncode == 1
    message = result.stderr
    assert "4 thing(s) missing" in message
    assert "PostgreSQL at 127.0.0.1:1 (TEST_POSTGRES_URL)" in message
    assert "Redis at 127.0.0.1:2 (TEST_REDIS_URL)" in message
    assert "apt-get install redis-server" in message
    assert f"({tmp_path / 'no-chromium'}, " in message
    assert "apt-get install -y --no-install-recommends chromium chromium-driver" in message
    assert f"promtool ({tmp_path / 'no-promtool'}) for the monitoring tests" in message
    assert "apt-get install -y --no-install-recommends prometheus" in message


def test_another_python_is_refused_naming_the_version(tmp_path) -> None:
    python = _fake_tool(tmp_path, "python3", "3 10")

    result = _preflight(python)

    assert result.returncode == 1
    assert f"Python 3.11 (found 3.10 at {python})" in result.stderr


def test_a_pg_dump_older_than_the_server_is_named(tmp_path, postgres_server_url) -> None:
    _fake_tool(tmp_path, "pg_dump", "pg_dump (PostgreSQL) 9.6.24")
    path = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"

    result = _preflight(sys.executable, env={"PATH": path})

    assert result.returncode == 1
    assert "pg_dump 9 is older than the PostgreSQL" in result.stderr
    assert "install postgresql-client-" in result.stderr


def test_a_chromedriver_of_another_version_is_named(tmp_path) -> None:
    chromium = _fake_tool(tmp_path, "chromium", "Chromium 156.0.8078.114 built on Debian")
    driver = _fake_tool(tmp_path, "chromedriver", "ChromeDriver 150.0.7000.1 (abc)")

    result = _preflight(
        sys.executable, env={"PREFLIGHT_CHROMIUM": chromium, "PREFLIGHT_CHROMEDRIVER": driver}
    )

    assert result.returncode == 1
    assert "chromium 156, chromedriver 150" in result.stderr
