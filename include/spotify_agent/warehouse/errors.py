"""Which database errors retrying cannot fix: the one place that tells them from transient ones.

A database that does not exist, a login the server refuses, a table or column that is not
there (a migration not run) or a store that cannot be opened stay so for the ten minutes of a
task's retries; they fail the task at once with the reason. Connection refused, timeouts,
deadlocks, serialisation failures, a server starting or shutting down, too many connections and
a locked SQLite file can pass: they keep the task's retries.

PostgreSQL errors are classified by SQLSTATE where the driver has it (``pgcode`` for psycopg2,
``sqlstate`` for psycopg 3) and by the server's FATAL message where it has not (a refused
connection carries no code); SQLite errors by their message and ``sqlite_errorname``. Messages
are matched in English (the server's default ``lc_messages``).
"""

from __future__ import annotations

import re

# SQLSTATE classes and codes retrying cannot fix.
PERMANENT_SQLSTATE_CLASSES = {
    "28": "the server refused the login",  # invalid_authorization_specification, 28P01 password
    "3D": "the database does not exist",  # invalid_catalog_name
    "3F": "the schema does not exist",  # invalid_schema_name
    "42": "the statement does not fit the database (missing table or column, no privilege)",
}
# A connection failure carries no SQLSTATE: the server's FATAL message says why.
_PG_FATAL = (
    (re.compile(r'database "[^"]*" does not exist'), "3D000"),
    (re.compile(r'role "[^"]*" does not exist'), "28000"),
    (re.compile(r"password authentication failed"), "28P01"),
    (re.compile(r"no pg_hba\.conf entry"), "28000"),
    (re.compile(r"authentication failed"), "28000"),
    (re.compile(r"permission denied for database"), "42501"),
)
_SQLITE_PERMANENT = (
    (re.compile(r"^no such (table|column|index)"), "the table or column does not exist"),
    (re.compile(r"^unable to open database file"), "the database file cannot be opened"),
    (re.compile(r"readonly database"), "the database file is read-only"),
    (re.compile(r"^file is not a database"), "the file is not a SQLite database"),
)
_SQLITE_PERMANENT_NAMES = frozenset({"SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_NOTADB"})
_MAX_CHAIN = 8


def permanent_database_error(error: BaseException) -> str | None:
    """Why ``error`` (or an error it was raised from) cannot pass with a retry, or None."""
    for cause in _chain(error):
        reason = _classify(cause)
        if reason is not None:
            return f"{reason}: {_first_line(cause)}"
    return None


def _classify(error: BaseException) -> str | None:
    from sqlalchemy import exc

    if isinstance(error, exc.NoSuchTableError):
        return "the table does not exist"
    if isinstance(error, exc.NoSuchModuleError | exc.ArgumentError):
        return "the database URL or driver is wrong"
    code = getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)
    message = str(error)
    if not code and type(error).__module__.split(".")[0] in ("psycopg2", "psycopg"):
        code = next((c for pattern, c in _PG_FATAL if pattern.search(message)), None)
    if isinstance(code, str) and code[:2] in PERMANENT_SQLSTATE_CLASSES:
        return f"{PERMANENT_SQLSTATE_CLASSES[code[:2]]} (SQLSTATE {code})"
    if type(error).__module__ == "sqlite3":
        for pattern, reason in _SQLITE_PERMANENT:
            if pattern.search(message):
                return reason
        name = getattr(error, "sqlite_errorname", None)
        if name in _SQLITE_PERMANENT_NAMES:
            return f"SQLite refused the database ({name})"
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """``error``, the driver error SQLAlchemy wraps, and what it was raised from."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo and len(seen) < _MAX_CHAIN:
        current = todo.pop(0)
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        todo.extend([getattr(current, "orig", None), current.__cause__, current.__context__])
    return seen


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # psycopg2's connection message: 'connection to server at ... failed: FATAL:  database ...'
    line = text.splitlines()[0] if text else type(error).__name__
    return line[:300]
