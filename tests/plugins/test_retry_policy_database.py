"""The shared retry policy fails at once on database errors retrying cannot fix."""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import RetryDecision
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from spotify_agent_airflow.retry import ProjectRetryPolicy


def _error_of(url: str, statement: str = "SELECT 1") -> BaseException:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    except Exception as error:  # noqa: BLE001 - the error is what the test looks at
        return error
    finally:
        engine.dispose()
    raise AssertionError("did not fail")


def test_an_unknown_database_fails_at_once(postgres_server_url: str) -> None:
    url = make_url(postgres_server_url).set(database="spotify_agent_no_such_database")
    decision = ProjectRetryPolicy().evaluate(_error_of(url.render_as_string(False)), 1, 4)
    assert decision.action == RetryDecision.fail(reason="").action
    assert decision.reason is not None and "the database does not exist" in decision.reason


def test_a_missing_sqlite_table_fails_at_once_and_a_locked_file_retries(tmp_path: Path) -> None:
    policy = ProjectRetryPolicy()
    missing = _error_of(f"sqlite:///{tmp_path / 'w.db'}", "SELECT * FROM no_table")
    assert policy.evaluate(missing, 1, 4).action == RetryDecision.fail(reason="").action
    locked = _locked(tmp_path / "locked.db")
    assert "database is locked" in str(locked)
    assert policy.evaluate(locked, 1, 4) == RetryDecision.default()


def _locked(path: Path) -> BaseException:
    holder = create_engine(f"sqlite:///{path}")
    try:
        with holder.connect() as held:
            held.execute(text("CREATE TABLE t (x INTEGER)"))
            held.commit()
            held.execute(text("BEGIN EXCLUSIVE"))
            return _error_of(f"sqlite:///{path}?timeout=0", "INSERT INTO t VALUES (1)")
    finally:
        holder.dispose()
