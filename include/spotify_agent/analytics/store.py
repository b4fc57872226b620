"""Warehouse side of the aggregation: the period's extract, and replacing the period's rows.

A period is ``kind`` "day" (a finished UTC day) or "partial" (a day so far). Its rows in every
aggregate table are replaced in one transaction, so a re-run writes the same rows and a reader
never sees half a period; a day's rows replace that day's partial, and a partial never replaces
a day that is already written.

Which day comes from the run's partition key (``streaming_aggregation`` runs once per day
partition of ``listening_events``); :func:`period_of_day` says whether that day is finished by
the time the run looks at it.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, delete, select, text

from spotify_agent.analytics.aggregation import DayAggregates, ListeningData, aggregate_day
from spotify_agent.core.quarantine import AGGREGATION_SOURCE, UNKNOWN_TRACK, QuarantinedItem
from spotify_agent.warehouse.schema import (
    agg_artist_country,
    agg_hours,
    agg_listeners,
    agg_tracks,
    aggregation_periods,
    catalogue_tracks,
    listener_profiles,
    listening_events,
    quarantine,
)
from spotify_agent.warehouse.times import midnight_utc

if TYPE_CHECKING:
    import pyarrow as pa

Kind = Literal["day", "partial"]
TABLES = {
    "artist_country": agg_artist_country,
    "tracks": agg_tracks,
    "users": agg_listeners,
    "hours": agg_hours,
}
QUARANTINE_SOURCE = AGGREGATION_SOURCE
_BATCH = 50_000
EXTRACT_PREFIX = "listening-extract-"
STALE_EXTRACT = timedelta(hours=6)  # the aggregation task times out after 40 minutes


@dataclass(frozen=True)
class Period:
    kind: Kind
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.start.date().isoformat()}"


def period_of_day(day: date, now: datetime) -> Period:
    """The period a run for the UTC ``day`` writes at ``now``: the finished day once its
    midnight has passed, else the day so far (a partial, up to ``now``)."""
    start = midnight_utc(day)
    end = start + timedelta(days=1)
    # A plain datetime: Airflow hands pendulum ones, whose arithmetic differs in small ways.
    now = datetime.fromtimestamp(now.timestamp(), UTC)
    if now >= end:
        return Period("day", start, end)
    return Period("partial", start, max(now, start))


def extract(connection: Connection, period: Period, folder: Path) -> ListeningData:
    """The period's plays and the dimension rows they need, written as the Parquet files
    ``aggregate_day`` reads. The plays leave the warehouse as Arrow batches and are written a
    batch at a time: memory holds a batch and the period's distinct ids, never the period.

    The reads see the snapshot of ``connection``'s transaction. On PostgreSQL they come through
    the ADBC driver (binary ``COPY`` decoded in C++, ``bench/extract.py``) on a connection of its
    own that imports that snapshot (in autocommit, in one fresh snapshot of its own); when the
    transaction has written (another session could not see its writes), and on SQLite, they
    come through ``connection`` itself."""
    folder.mkdir(parents=True, exist_ok=True)
    data = ListeningData.in_folder(folder)
    in_period = (listening_events.c.played_at >= period.start) & (
        listening_events.c.played_at < period.end
    )
    plays = select(
        listening_events.c.user_id,
        listening_events.c.played_at,
        listening_events.c.track_id,
        listening_events.c.ms_played,
    ).where(in_period)
    # Whole dimensions, kept to the ids the plays name: one scan of each small table instead
    # of a DISTINCT over the period's plays per dimension (8-9 s at 10M plays, 0.3 s so).
    tracks = select(catalogue_tracks.c.track_id, catalogue_tracks.c.artist_id)
    listeners = select(listener_profiles.c.user_id, listener_profiles.c.country).where(
        listener_profiles.c.country.is_not(None)
    )
    with _batch_reader(connection) as read:
        seen_tracks, seen_listeners = _Distinct(), _Distinct()
        with _writer(data.events, "events") as writer:
            for batch in read(plays, _schema("events")):
                seen_tracks.add(batch.column("track_id"))
                seen_listeners.add(batch.column("user_id"))
                writer.write_batch(batch, row_group_size=_BATCH)
        _write_kept(read(tracks, _schema("tracks")), seen_tracks.values(), data.tracks, "tracks")
        _write_kept(
            read(listeners, _schema("listeners")),
            seen_listeners.values(),
            data.listeners,
            "listeners",
        )
    return data


def aggregate_extract(data: ListeningData, period: Period, *, now: datetime) -> DayAggregates:
    """``aggregate_day`` over the extract of ``period``."""
    return aggregate_day(
        data.events,
        data.tracks,
        data.listeners,
        day_start=period.start,
        day_end=period.end,
        now=now,
    )


def sweep_stale_extracts(root: Path, *, now: datetime) -> list[Path]:
    """Delete the extract folders in ``root`` that a killed task left behind (they hold
    listener ids, which must not outlive the task): any :data:`EXTRACT_PREFIX` folder untouched
    for :data:`STALE_EXTRACT`, far longer than an aggregation may run."""
    removed = []
    for folder in root.glob(f"{EXTRACT_PREFIX}*"):
        try:
            untouched = now.timestamp() - folder.stat().st_mtime
        except FileNotFoundError:  # its own task finished meanwhile
            continue
        if folder.is_dir() and untouched > STALE_EXTRACT.total_seconds():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def replace_period(
    connection: Connection,
    period: Period,
    result: DayAggregates,
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
    without: Collection[str] = (),
) -> dict[str, int]:
    """Replace the period's rows in every aggregate table (and, for a day, drop its partial);
    returns rows written per table. A partial of a day already written is not written. Rows of
    the listeners in ``without`` (being erased) are left out."""
    if period.kind == "partial" and _day_written(connection, period.start):
        return {}
    kinds: tuple[Kind, ...] = ("day", "partial") if period.kind == "day" else ("partial",)
    for table in (*TABLES.values(), aggregation_periods):
        connection.execute(
            delete(table).where(table.c.kind.in_(kinds), table.c.period_start == period.start)
        )
    written = {}
    for name, table in TABLES.items():
        rows = result.tables[name]
        if name == "users" and without:
            rows = _without(rows, "user_id", without)
        written[name] = _insert(connection, table, rows, kind=period.kind, start=period.start)
    connection.execute(
        aggregation_periods.insert(),
        [
            {
                "kind": period.kind,
                "period_start": period.start,
                "period_end": period.end,
                "plays": result.plays,
                "rejected": result.rejected_counts,
                "run_id": run_id,
                "trace_id": trace_id,
                "computed_at": at,
            }
        ],
    )
    return written


def _without(rows: pa.Table, column: str, values: Collection[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    drop = pa.array(sorted(values), pa.string()).cast(rows.schema.field(column).type)
    return rows.filter(pc.invert(pc.is_in(rows.column(column), value_set=drop)))


def _insert(
    connection: Connection, table: Any, rows: pa.Table, *, kind: str, start: datetime
) -> int:
    """Insert ``rows`` (an aggregate table) as the period's, in the caller's transaction, a
    batch at a time: on PostgreSQL by ``COPY`` through the connection's own cursor (at 1M plays
    SQLAlchemy's executemany took 7.2 of the job's 9.4 s), elsewhere by executemany."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [column.name for column in table.c]
    copy = connection.dialect.name == "postgresql"
    cursor = connection.connection.dbapi_connection.cursor() if copy else None  # type: ignore[union-attr]
    for batch in rows.to_batches(max_chunksize=_BATCH):
        if not batch.num_rows:
            continue
        if cursor is None:
            # Batch by batch: a day's million listeners as Python dicts at once would take GBs.
            connection.execute(
                table.insert(),
                [{**row, "kind": kind, "period_start": start} for row in batch.to_pylist()],
            )
            continue
        constants = {
            "kind": pa.array([kind] * batch.num_rows, pa.string()),
            "period_start": pa.array([start] * batch.num_rows, pa.timestamp("us", "UTC")),
        }
        full = pa.table({c: constants[c] if c in constants else batch.column(c) for c in columns})
        text_rows = io.BytesIO()
        # Every value quoted: an empty id stays an empty string, never NULL.
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        pacsv.write_csv(full, text_rows, options)
        text_rows.seek(0)
        cursor.copy_expert(
            f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT csv)", text_rows
        )
    if cursor is not None:
        cursor.close()
    return int(rows.num_rows)


def quarantine_source(period: Period) -> str:
    """One source per day for partials and the day alike: the day's run replaces its rows."""
    return f"{QUARANTINE_SOURCE}:{period.start.date().isoformat()}"


def clear_quarantine(connection: Connection, period: Period) -> int:
    """Drop what an earlier run of the day set aside (a play of a track the catalogue has come
    to know since must not stay in quarantine)."""
    result = connection.execute(
        delete(quarantine).where(quarantine.c.source == quarantine_source(period))
    )
    return int(result.rowcount or 0)


def rejected_items(
    result: DayAggregates, period: Period, *, without: Collection[str] = ()
) -> Iterator[QuarantinedItem]:
    """Each play set aside, whole, with its reason; plays of users in ``without`` are left out
    (users being erased)."""
    for row in result.rejected.to_pylist():
        if row["user_id"] in without:
            continue
        reason = row.pop("reason")
        played_at = row["played_at"]
        row["played_at"] = played_at.isoformat() if played_at is not None else None
        yield QuarantinedItem(
            quarantine_source(period),
            row,
            reason,
            field=_FIELD_OF.get(reason),
        )


_FIELD_OF = {
    "in_future": "played_at",
    "outside_interval": "played_at",
    UNKNOWN_TRACK: "track_id",
    "negative_duration": "ms_played",
    "absurd_duration": "ms_played",
}


def _day_written(connection: Connection, start: datetime) -> bool:
    query = select(aggregation_periods.c.kind).where(
        aggregation_periods.c.kind == "day", aggregation_periods.c.period_start == start
    )
    return connection.execute(query).first() is not None


# What ``aggregate_day`` reads: the extract's columns and their Arrow types.
_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (
        ("user_id", "string"),
        ("played_at", "timestamp"),
        ("track_id", "string"),
        ("ms_played", "int64"),
    ),
    "tracks": (("track_id", "string"), ("artist_id", "string")),
    "listeners": (("user_id", "string"), ("country", "string")),
}
# Dimension rows are filtered a large chunk at a time: each filter builds a hash of the ids seen.
_DIMENSION_CHUNK = 1_000_000
# Parquet options of the extract (a scratch file read once): no compression dictionaries to
# build, lz4 to keep it small; at 1M plays 0.22 s to write against 0.40 s with the defaults,
# and aggregate_day reads it as fast.
_PARQUET = {"compression": "lz4", "use_dictionary": False}

BatchReader = Callable[[Any, "pa.Schema"], Iterator["pa.RecordBatch"]]


def _schema(name: str) -> pa.Schema:
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "timestamp": pa.timestamp("us", "UTC")}
    return pa.schema([(column, types[kind]) for column, kind in _COLUMNS[name]])


def _writer(path: Path, name: str) -> Any:
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, _schema(name), **_PARQUET)


@contextmanager
def _batch_reader(connection: Connection) -> Iterator[BatchReader]:
    """A function from a query and the Arrow schema of its rows to their batches, reading what
    ``connection``'s transaction sees."""
    if connection.dialect.name == "postgresql":
        if getattr(connection.connection.dbapi_connection, "autocommit", False):
            # Every statement sees the latest commits: one snapshot of the driver's own does.
            with _adbc_reader(connection, None) as read:
                yield read
            return
        snapshot = _exported_snapshot(connection)
        if snapshot is not None:
            with _adbc_reader(connection, snapshot) as read:
                yield read
            return
    yield partial(_connection_batches, connection)


def _exported_snapshot(connection: Connection) -> str | None:
    """The id of the transaction's snapshot, for another session to import; None when the
    transaction has written (another session would not see its writes)."""
    wrote, snapshot = connection.execute(
        text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL, pg_export_snapshot()")
    ).one()
    return None if wrote else str(snapshot)


@contextmanager
def _adbc_reader(connection: Connection, snapshot: str | None) -> Iterator[BatchReader]:
    """Batches from the ADBC PostgreSQL driver on a session of its own that reads ``snapshot``
    (valid while ``connection``'s transaction is open, which it is for the whole extract), or
    its own snapshot when None."""
    import adbc_driver_manager
    import adbc_driver_postgresql
    import pyarrow as pa

    from spotify_agent.warehouse.engine import libpq_uri

    # An exported snapshot is a quoted literal of hex digits and dashes: nothing to escape.
    if snapshot is not None and not re.fullmatch(r"[0-9A-F-]+", snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    begin = [
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        *([f"SET TRANSACTION SNAPSHOT '{snapshot}'"] if snapshot else []),
        # A parallel plan under COPY (which the driver runs) stalled for minutes on a busy
        # 2-core machine; the extract's scans are sequential either way.
        "SET LOCAL max_parallel_workers_per_gather = 0",
    ]
    url = connection.engine.url
    with (
        adbc_driver_postgresql.connect(libpq_uri(url)) as database,
        adbc_driver_manager.AdbcConnection(database) as session,
        adbc_driver_manager.AdbcStatement(session) as statement,
    ):
        for sql in begin:
            statement.set_sql_query(sql)
            statement.execute_update()

        def read(query: Any, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
            statement.set_sql_query(_literal_sql(connection, query))
            stream, _ = statement.execute_query()
            with pa.RecordBatchReader.from_stream(stream) as batches:
                for batch in batches:
                    yield _conformed(batch.columns, schema)

        # Closing the session ends its read-only transaction.
        yield read


def _connection_batches(
    connection: Connection, query: Any, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Batches of :data:`_BATCH` rows through ``connection``'s own DBAPI cursor (a server-side
    one on PostgreSQL), made Arrow in C: SQLAlchemy's rows cost more than the reading (0.9 of
    the 1.9 s SQLite took for 1M plays)."""
    import pyarrow as pa

    sqlite = connection.dialect.name == "sqlite"
    # SQLite hands timestamps back as the text SQLAlchemy stored, which Arrow parses.
    raw = pa.struct(
        [
            (
                field.name,
                pa.string() if sqlite and pa.types.is_timestamp(field.type) else field.type,
            )
            for field in schema
        ]
    )
    dbapi: Any = connection.connection.dbapi_connection
    cursor = dbapi.cursor() if sqlite else dbapi.cursor(name=f"extract_{id(query):x}")
    try:
        cursor.execute(_literal_sql(connection, query))
        while rows := cursor.fetchmany(_BATCH):
            columns = pa.array(rows, type=raw).flatten()
            yield pa.record_batch(
                [_typed(column, field.type) for column, field in zip(columns, schema, strict=True)],
                schema=schema,
            )
    finally:
        cursor.close()


def _literal_sql(connection: Connection, query: Any) -> str:
    """``query`` as SQL text with its parameters inline (our own datetimes, rendered by the
    dialect as it would bind them)."""
    return str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))


def _typed(column: Any, type_: Any) -> Any:
    """``column`` as ``type_``; SQLite's timestamp text is UTC (:func:`stored_utc`), and text
    with an offset (not written by SQLAlchemy) is read as SQLAlchemy reads it."""
    import pyarrow as pa

    if column.type == type_:
        return column
    try:
        return column.cast(pa.timestamp("us")).cast(type_)
    except pa.ArrowInvalid:
        values = [None if v is None else datetime.fromisoformat(v) for v in column.to_pylist()]
        return pa.array(values, type_)


def _conformed(columns: Sequence[Any], schema: pa.Schema) -> pa.RecordBatch:
    """The driver's columns in the extract's types (``ms_played`` is 32-bit in the warehouse)
    and without its field metadata."""
    import pyarrow as pa

    return pa.record_batch(
        [column.cast(field.type) for column, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


class _Distinct:
    """The distinct values of a string column seen batch by batch, merged as they come so that
    no more than a few batches' worth wait to be merged."""

    def __init__(self) -> None:
        self._merged: list[Any] = []
        self._pending: list[Any] = []
        self._pending_rows = 0

    def add(self, column: Any) -> None:
        unique = column.unique()
        self._pending.append(unique)
        self._pending_rows += len(unique)
        if self._pending_rows > _DIMENSION_CHUNK:
            self._merge()

    def values(self) -> Any:
        self._merge()
        return self._merged[0]

    def _merge(self) -> None:
        import pyarrow as pa

        chunks = [*self._merged, *self._pending]
        self._merged = [pa.chunked_array(chunks, type=pa.string()).unique()]
        self._pending, self._pending_rows = [], 0


def _write_kept(batches: Iterator[Any], keep: Any, path: Path, name: str) -> None:
    """The dimension's rows whose key (the first column) is in ``keep``, a chunk at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = _schema(name)
    with _writer(path, name) as writer:
        for chunk in _chunks(batches, _DIMENSION_CHUNK):
            table = pa.Table.from_batches(chunk, schema=schema)
            writer.write_table(table.filter(pc.is_in(table.column(0), value_set=keep)))


def _chunks(batches: Iterator[Any], rows: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    size = 0
    for batch in batches:
        chunk.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
