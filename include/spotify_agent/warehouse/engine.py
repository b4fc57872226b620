"""Engines for the warehouse, with the SQLite settings a multi-process Airflow needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

# Task processes and listeners write concurrently; wait for a lock instead of failing at once, but
# less than the 20 s Airflow gives a finished task's listeners.
SQLITE_BUSY_TIMEOUT_MS = 15_000
POSTGRES_CONNECT_TIMEOUT_S = 10


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL journaling, foreign keys and a busy timeout."""
    url = make_url(url)
    # Error messages must not carry row values: they end up in logs and audit rows, and rows
    # hold personal data (user ids).
    kwargs.setdefault("hide_parameters", True)
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        if url.get_backend_name() == "postgresql":
            connect_args = dict(kwargs.pop("connect_args", {}))
            connect_args.setdefault("connect_timeout", POSTGRES_CONNECT_TIMEOUT_S)
            kwargs["connect_args"] = connect_args
        return create_engine(url, **kwargs)

    engine = create_engine(url, **kwargs)
    read_only = "mode=ro" in str(url)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    return engine


def read_only_url(url: str | URL) -> URL:
    """A URL that can only read ``url``'s database; for SQLite it also never creates the file."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return url
    database = url.database or ""
    if database in ("", ":memory:"):
        return url
    return url.set(database=f"file:{database}?mode=ro", query={**url.query, "uri": "true"})


def url_from_connection(
    conn_type: str,
    *,
    host: str | None,
    schema: str | None = None,
    login: str | None = None,
    password: str | None = None,
    port: int | None = None,
    extra: dict[str, Any] | None = None,
    base_dir: Path | None = None,
) -> URL:
    """The SQLAlchemy URL for an Airflow connection's fields.

    ``sqlite``: ``host`` is the database file; a relative path is taken under ``base_dir``.
    ``postgres``: host, port, login, password and database (``schema``); ``extra`` keys such as
    ``sslmode`` become query parameters.
    """
    if conn_type == "sqlite":
        if not host:
            raise ValueError("a sqlite warehouse connection needs the database file path in 'host'")
        path = Path(host).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return URL.create("sqlite", database=str(path))
    if conn_type in ("postgres", "postgresql"):
        query = {key: str(value) for key, value in (extra or {}).items()}
        return URL.create(
            "postgresql+psycopg2",
            username=login or None,
            password=password or None,
            host=host or None,
            port=port or None,
            database=schema or None,
            query=query,
        )
    raise ValueError(f"warehouse connections must be 'sqlite' or 'postgres', not {conn_type!r}")


def libpq_uri(url: str | URL) -> str:
    """The libpq connection URI of a PostgreSQL SQLAlchemy URL, for clients that speak libpq
    themselves (the ADBC driver): the same host, login and database, its query parameters
    (``sslmode`` and the like) kept, and the connect timeout :func:`make_engine` sets."""
    url = make_url(url)
    query = dict(url.query)
    query.setdefault("connect_timeout", str(POSTGRES_CONNECT_TIMEOUT_S))
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
