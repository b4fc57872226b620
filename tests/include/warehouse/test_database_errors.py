"""Database errors retrying cannot fix, told from transient ones, on real servers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from spotify_agent.warehouse.errors import permanent_database_error


def _error_of(url: str, statement: str = "SELECT 1") -> BaseException:
    engine = create_engine(url, connect_args={"connect_timeout": 5} if "postgres" in url else {})
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    except Exception as error:  # noqa: BLE001 - the error is what the test looks at
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{url}: {statement} did not fail")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"database": "spotify_agent_no_such_database"}, "SQLSTATE 3D000"),
        ({"username": "spotify_agent_no_such_role"}, "SQLSTATE 28000"),
    ],
    ids=["unknown_database", "unknown_role"],
)
@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_postgres_refusals_are_permanent(
    postgres_server_url: str, change: dict, expected: str, driver: str
) -> None:
    url = make_url(postgres_server_url).set(drivername=f"postgresql+{driver}", **change)
    reason = permanent_database_error(_error_of(url.render_as_string(hide_password=False)))
    assert reason is not None and expected in reason
    assert "does not exist" in reason


def test_a_missing_table_is_permanent_on_postgres(postgres_database: str) -> None:
    reason = permanent_database_error(_error_of(postgres_database, "SELECT * FROM no_table"))
    assert reason is not None and "SQLSTATE 42P01" in reason
    # The reason is the driver's first line, not SQLAlchemy's text with the statement.
    assert "[SQL:" not in reason


def test_sqlite_missing_tables_and_unopenable_files_are_permanent(tmp_path: Path) -> None:
    missing = permanent_database_error(
        _error_of(f"sqlite:///{tmp_path / 'w.db'}", "SELECT * FROM no_table")
    )
    assert missing is not None and "no such table: no_table" in missing
    unopenable = permanent_database_error(_error_of(f"sqlite:///{tmp_path / 'no' / 'w.db'}"))
    assert unopenable is not None and "cannot be opened" in unopenable


def test_transient_faults_keep_their_retries(postgres_server_url: str, tmp_path: Path) -> None:
    refused = make_url(postgres_server_url).set(port=_closed_port())
    assert permanent_database_error(_error_of(refused.render_as_string(False))) is None
    timeout = _error_of(postgres_server_url, "SET statement_timeout = 1; SELECT pg_sleep(1)")
    assert "statement timeout" in str(timeout)
    assert permanent_database_error(timeout) is None
    assert permanent_database_error(ConnectionResetError("peer went away")) is None


def test_a_wrapped_database_error_is_still_found(tmp_path: Path) -> None:
    missing = _error_of(f"sqlite:///{tmp_path / 'w.db'}", "SELECT * FROM no_table")
    try:
        raise RuntimeError("writing the batch failed") from missing
    except RuntimeError as wrapped:
        assert permanent_database_error(wrapped) is not None
