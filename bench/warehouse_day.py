"""A synthetic listening day planted in a fresh warehouse, for the benchmarks that read it back.

The day is ``spotify_agent.analytics.synthetic``'s (the one ``bench/aggregation.py`` aggregates
from Parquet); here it is loaded into a migrated warehouse: on PostgreSQL with ``COPY``, on
SQLite with ``executemany``. Each run gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR / "include"), str(PROJECT_DIR / "plugins")]

SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DAY = datetime(2026, 11, 25, tzinfo=UTC)
FULL = {"events": 10_000_000, "users": 1_000_000, "tracks": 200_000, "artists": 20_000}
QUICK = {"events": 1_000_000, "users": 100_000, "tracks": 20_000, "artists": 2_000}
INGESTED_AT = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)


@contextmanager
def fresh_postgres(server_url: str = SERVER_URL, prefix: str = "bench") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on ``server_url``; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def plant_day(engine: Any, size: dict[str, int], *, seed: int = 11) -> int:
    """Migrate the warehouse and load one synthetic day (plays, catalogue, listener profiles);
    returns the plays loaded."""
    import pyarrow.parquet as pq

    from spotify_agent.analytics.synthetic import write_listening_day
    from spotify_agent.warehouse.migrate import upgrade

    upgrade(engine)
    with tempfile.TemporaryDirectory(prefix="bench-day-") as tmp:
        data = write_listening_day(Path(tmp), day=DAY, seed=seed, **size)
        events = pq.read_table(data.events)
        n = events.num_rows
        constant = {"source": "bench", "run_id": "bench", "ingested_at": INGESTED_AT}
        events = _with_constants(events, constant)
        tracks = pq.read_table(data.tracks)
        tracks = _with_constants(
            tracks.append_column("artist_name", tracks.column("artist_id")).append_column(
                "name", tracks.column("track_id")
            ),
            {"updated_at": INGESTED_AT},
        )
        listeners = _with_constants(pq.read_table(data.listeners), {"updated_at": INGESTED_AT})
        for table, rows in (
            ("listening_events", events),
            ("catalogue_tracks", tracks),
            ("listener_profiles", listeners),
        ):
            _load(engine, table, rows, Path(tmp) / f"{table}.csv")
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    return n


def _with_constants(table: Any, values: dict[str, Any]) -> Any:
    import pyarrow as pa

    for name, value in values.items():
        table = table.append_column(name, pa.array([value] * table.num_rows))
    return table


def _load(engine: Any, name: str, rows: Any, scratch: Path) -> None:
    """COPY on PostgreSQL (from a CSV file pyarrow writes), executemany on SQLite."""
    import pyarrow.csv as pacsv

    if engine.dialect.name != "postgresql":
        from sqlalchemy import Table

        from spotify_agent.warehouse.schema import metadata

        table: Table = metadata.tables[name]
        with engine.begin() as connection:
            for batch in rows.to_batches(max_chunksize=100_000):
                connection.execute(table.insert(), batch.to_pylist())
        return
    pacsv.write_csv(rows, scratch, pacsv.WriteOptions(include_header=False))
    columns = ", ".join(rows.column_names)
    with engine.begin() as connection, scratch.open("rb") as source:
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)", source)
    scratch.unlink()
