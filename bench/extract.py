"""The aggregation's extract (``spotify_agent.analytics.store.extract``) against other ways of
getting a day's plays out of the warehouse into the same Parquet files.

One synthetic day (``bench/warehouse_day.py``) is planted in a fresh PostgreSQL database and a
SQLite file; each way runs in a fresh process, the runs interleaved, and writes the extract's
three files, which are checked equal to ours, value for value. The ways:

- ``ours``: ``extract`` (PostgreSQL: the ADBC driver, binary COPY decoded in C++, in the
  caller's snapshot; SQLite: the connection's rows turned into Arrow arrays in C);
- ``rowwise``: what ``extract`` did before, rows through SQLAlchemy's ``yield_per`` and a
  Python loop over the timestamps (the baseline);
- ``copy_csv`` (PostgreSQL): psycopg2's ``COPY (...) TO STDOUT (FORMAT csv)`` through a pipe
  into pyarrow's streaming CSV reader, on the caller's own connection;
- ``fetchmany`` (PostgreSQL): a psycopg2 server-side cursor, ``fetchmany`` into Arrow arrays.

Targets: ours >= 3x rowwise in plays/s on PostgreSQL and >= 1.5x on SQLite.

    python bench/extract.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from aggregation import peak_mib
from verdicts import exit_code, measure_in_fresh_process, ratio_verdict
from warehouse_day import DAY, fresh_postgres, plant_day

SIZE = {"events": 1_000_000, "users": 100_000, "tracks": 20_000, "artists": 2_000}
QUICK = {"events": 200_000, "users": 20_000, "tracks": 4_000, "artists": 400}
WAYS = {"postgresql": ["ours", "rowwise", "copy_csv", "fetchmany"], "sqlite": ["ours", "rowwise"]}
TARGET = {"postgresql": 3.0, "sqlite": 1.5}


def run_one(way: str, url: str, out: Path) -> None:
    import pyarrow  # noqa: F401  (every way needs it; its import is not what is measured)

    from spotify_agent.analytics.store import Period
    from spotify_agent.warehouse.engine import make_engine

    engine = make_engine(url)
    period = Period("day", DAY, DAY + timedelta(days=1))
    began = time.perf_counter()
    with engine.connect() as connection:
        WAY[way](connection, period, out)
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib()}))


def ours(connection: Any, period: Any, out: Path) -> None:
    from spotify_agent.analytics.store import extract

    extract(connection, period, out)


def rowwise(connection: Any, period: Any, out: Path) -> None:
    """``extract`` as it was until 2026-12: rows by ``yield_per``, one datetime at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sqlalchemy import select

    from spotify_agent.analytics.aggregation import ListeningData
    from spotify_agent.warehouse.schema import catalogue_tracks, listener_profiles
    from spotify_agent.warehouse.schema import listening_events as events
    from spotify_agent.warehouse.times import stored_utc

    out.mkdir(parents=True, exist_ok=True)
    data = ListeningData.in_folder(out)
    in_period = (events.c.played_at >= period.start) & (events.c.played_at < period.end)
    query = select(
        events.c.user_id, events.c.played_at, events.c.track_id, events.c.ms_played
    ).where(in_period)
    schema = _schema("events")
    with pq.ParquetWriter(data.events, schema) as writer:
        result = connection.execute(query, execution_options={"yield_per": 50_000})
        for rows in result.partitions():
            user_ids, played_ats, track_ids, ms_played = zip(*rows, strict=True)
            writer.write_batch(
                pa.record_batch(
                    [
                        pa.array(user_ids, pa.string()),
                        pa.array([stored_utc(at) for at in played_ats], schema[1].type),
                        pa.array(track_ids, pa.string()),
                        pa.array(ms_played, pa.int64()),
                    ],
                    schema=schema,
                )
            )
    for path, dimension, key, value, extra in (
        (data.tracks, catalogue_tracks, "track_id", "artist_id", None),
        (data.listeners, listener_profiles, "user_id", "country", "country"),
    ):
        seen = select(events.c[key]).where(in_period).distinct()
        where = [dimension.c[key].in_(seen)]
        if extra:
            where.append(dimension.c[extra].is_not(None))
        rows = connection.execute(select(dimension.c[key], dimension.c[value]).where(*where))
        rows = rows.all()
        pq.write_table(
            pa.table(
                {n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate((key, value))}
            ),
            path,
        )


def copy_csv(connection: Any, period: Any, out: Path) -> None:
    """The plays by psycopg2's COPY as CSV, parsed by pyarrow while they arrive."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cursor = connection.connection.dbapi_connection.cursor()
    sql = (
        "SELECT user_id, (extract(epoch FROM played_at) * 1000000)::bigint, track_id, ms_played "
        "FROM listening_events WHERE played_at >= %s AND played_at < %s"
    )
    sql = cursor.mogrify(sql, (period.start, period.end)).decode()
    read, write = os.pipe()
    source, sink = os.fdopen(read, "rb", buffering=1 << 20), os.fdopen(write, "wb", 1 << 20)
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            cursor.copy_expert(f"COPY ({sql}) TO STDOUT (FORMAT csv)", sink)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            sink.close()

    thread = threading.Thread(target=pump)
    thread.start()
    schema = _schema("events")
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=schema.names, block_size=4 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={"user_id": pa.string(), "played_at": pa.int64(),
                          "track_id": pa.string(), "ms_played": pa.int64()},
            null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip

    def batches() -> Any:
        for batch in reader:
            columns = batch.columns
            columns[1] = columns[1].view(schema[1].type)
            yield pa.record_batch(columns, schema=schema)
        thread.join()
        if errors:
            raise errors[0]

    _with_dimensions(connection, out, batches())


def fetchmany(connection: Any, period: Any, out: Path) -> None:
    """The plays from a psycopg2 server-side cursor, ``fetchmany`` into Arrow arrays."""
    import pyarrow as pa

    cursor = connection.connection.dbapi_connection.cursor(name="bench_extract")
    cursor.execute(
        "SELECT user_id, played_at, track_id, ms_played FROM listening_events "
        "WHERE played_at >= %s AND played_at < %s",
        (period.start, period.end),
    )
    schema = _schema("events")

    def batches() -> Any:
        while rows := cursor.fetchmany(50_000):
            columns = zip(*rows, strict=True)
            yield pa.record_batch(
                [
                    pa.array(values, field.type)
                    for values, field in zip(columns, schema, strict=True)
                ],
                schema=schema,
            )

    _with_dimensions(connection, out, batches())


def _with_dimensions(connection: Any, out: Path, batches: Any) -> None:
    """Write the plays from ``batches``, then the dimensions the way ``extract`` does (so the
    ways differ only in how the plays are read)."""
    from functools import partial

    from sqlalchemy import select

    from spotify_agent.analytics import store
    from spotify_agent.analytics.aggregation import ListeningData
    from spotify_agent.warehouse.schema import catalogue_tracks, listener_profiles

    out.mkdir(parents=True, exist_ok=True)
    data = ListeningData.in_folder(out)
    tracks, listeners = store._Distinct(), store._Distinct()
    with store._writer(data.events, "events") as writer:
        for batch in batches:
            tracks.add(batch.column("track_id"))
            listeners.add(batch.column("user_id"))
            writer.write_batch(batch, row_group_size=store._BATCH)
    read = partial(store._connection_batches, connection)
    catalogue = select(catalogue_tracks.c.track_id, catalogue_tracks.c.artist_id)
    profiles = select(listener_profiles.c.user_id, listener_profiles.c.country).where(
        listener_profiles.c.country.is_not(None)
    )
    tracks_schema, listeners_schema = store._schema("tracks"), store._schema("listeners")
    store._write_kept(read(catalogue, tracks_schema), tracks.values(), data.tracks, "tracks")
    store._write_kept(
        read(profiles, listeners_schema), listeners.values(), data.listeners, "listeners"
    )


def _schema(name: str) -> Any:
    from spotify_agent.analytics.store import _schema as schema

    return schema(name)


WAY = {"ours": ours, "rowwise": rowwise, "copy_csv": copy_csv, "fetchmany": fetchmany}


def same_extract(a: Path, b: Path) -> bool:
    import pyarrow.parquet as pq

    for name in ("events", "tracks", "listeners"):
        x, y = pq.read_table(a / f"{name}.parquet"), pq.read_table(b / f"{name}.parquet")
        keys = [(column, "ascending") for column in x.column_names]
        if not (x.schema.equals(y.schema) and x.sort_by(keys).equals(y.sort_by(keys))):
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k plays instead of 1M (CI)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run-one", nargs=3, metavar=("WAY", "URL", "OUT"))
    args = parser.parse_args()
    if args.run_one:
        way, url, out = args.run_one
        run_one(way, url, Path(out))
        return 0

    from spotify_agent.warehouse.engine import make_engine

    size = QUICK if args.quick else SIZE
    verdicts = []
    print(f"Extract of a day of {size['events']:,} plays, median of {args.repeats} runs, "
          "each way in a fresh process")  # fmt: skip
    print(f"{'backend':<11} {'way':<10} {'plays/s':>10} {'seconds':>8} {'peak MiB':>9} {'same':>5}")
    with fresh_postgres(prefix="bench_extract") as pg, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for backend, url in (("postgresql", pg), ("sqlite", f"sqlite:///{root / 'w.db'}")):
            engine = make_engine(url)
            plays = plant_day(engine, size)
            engine.dispose()
            ways = WAYS[backend]
            runs: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
            for n in range(args.repeats):
                for way in ways:
                    runs[way].append(
                        measure_in_fresh_process(__file__, way, url, root / backend / f"{way}{n}")
                    )
            rate = {w: plays / statistics.median(r["seconds"] for r in runs[w]) for w in ways}
            for way in ways:
                same = "-" if way == "ours" else (
                    "yes" if same_extract(root / backend / "ours0", root / backend / f"{way}0")
                    else "NO"
                )  # fmt: skip
                seconds = statistics.median(r["seconds"] for r in runs[way])
                peak = max(r["peak_mib"] for r in runs[way])
                print(f"{backend:<11} {way:<10} {rate[way]:>10,.0f} {seconds:>8.2f} "
                      f"{peak:>9.0f} {same:>5}")  # fmt: skip
                if same == "NO":
                    verdicts.append(f"bench extract: {backend} {way} differs from ours: SHORT")
            verdicts.append(
                ratio_verdict(
                    "extract",
                    f"{backend}_plays_per_s",
                    rate["ours"],
                    "sqlalchemy yield_per, row by row",
                    rate["rowwise"],
                    op=">=",
                    target=TARGET[backend],
                    fmt="{:,.0f}",
                )
            )
    print()
    print("\n".join(verdicts))
    return exit_code(verdicts)


if __name__ == "__main__":
    sys.exit(main())
