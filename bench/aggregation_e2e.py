"""The whole day's aggregation job against PostgreSQL alone and DuckDB, end to end in the warehouse.

One synthetic day (``bench/warehouse_day.py``) is planted with COPY in a fresh PostgreSQL
database; then, side by side in one run, three ways produce the same result tables in it:

- ``ours``: ``aggregate_period`` (extract, check every play, aggregate, write every table with
  its audit row in one transaction), in a fresh process;
- ``postgresql``: the same figures by ``INSERT ... SELECT`` with ``COUNT(DISTINCT ...)`` and a
  window for the sessions, in one transaction, with the settings printed below pinned;
- ``duckdb``: DuckDB reads the tables out of PostgreSQL (its time includes the read: Arrow
  batches from the ADBC driver, since DuckDB's postgres extension cannot be installed offline
  and its PyPI builds are for DuckDB 1.5, not our 2.0), aggregates, and writes the results
  back with ADBC's bulk ingest (COPY), in a fresh process.

Every table of each baseline is checked equal to ours, value for value. Targets, as speed
ratios (their time / ours): >= 1.5 against PostgreSQL, >= 0.9 against DuckDB; ours peaks at
<= 1.5 GiB (``VmHWM``) at 10M plays.

    python bench/aggregation_e2e.py [--quick] [--repeats N]
"""

# Every statement here is built from this file's own constants (table names, the day).
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from aggregation import peak_mib
from verdicts import exit_code, measure_in_fresh_process, ratio_verdict
from warehouse_day import DAY, FULL, QUICK, fresh_postgres, plant_day

MIN_VS_POSTGRES, MIN_VS_DUCKDB, MAX_PEAK_MIB = 1.5, 0.9, 1536
# PostgreSQL's settings for its baseline, pinned for the transaction and printed.
PG_SETTINGS = {"work_mem": "256MB", "max_parallel_workers_per_gather": "2", "jit": "off"}
TABLES = {
    "agg_artist_country": ("artist_id", "country"),
    "agg_tracks": ("track_id",),
    "agg_listeners": ("user_id",),
    "agg_hours": ("hour",),
}
START = DAY.isoformat()
END = (DAY + timedelta(days=1)).isoformat()


def run_ours(url: str) -> dict[str, float]:
    from functools import partial

    from spotify_agent.analytics.store import Period
    from spotify_agent.analytics.streaming_aggregation import aggregate_period
    from spotify_agent.core.audit import Attempt
    from spotify_agent.maintenance.erasure import erased_among
    from spotify_agent.maintenance.erasure_keys import Keyring
    from spotify_agent.warehouse.engine import make_engine

    engine = make_engine(url)
    attempt = Attempt("streaming_aggregation", "bench", "ab" * 16, task_id="aggregate")
    period = Period("day", DAY, DAY + timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as scratch:
        began = time.perf_counter()
        done = aggregate_period(
            engine,
            period,
            attempt,
            partial(erased_among, key=Keyring(None)),
            scratch=Path(scratch),
            now=period.end + timedelta(hours=1),
        )
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "peak_mib": peak_mib(), "plays": done.counts["plays"]}


def run_postgres(url: str) -> dict[str, float]:
    """The same figures in SQL alone, into ``pg_<table>``, in one transaction."""
    from spotify_agent.warehouse.engine import make_engine

    engine = make_engine(url)
    good = f"""
        SELECT e.user_id, e.played_at, e.track_id, e.ms_played, t.artist_id,
               COALESCE(l.country, 'ZZ') AS country
        FROM listening_events e
        JOIN catalogue_tracks t USING (track_id)
        LEFT JOIN listener_profiles l ON l.user_id = e.user_id AND l.country IS NOT NULL
        WHERE e.played_at >= '{START}' AND e.played_at < '{END}'"""
    day = f"'day', '{START}'::timestamptz"
    inserts = {
        "agg_artist_country": f"""
            SELECT {day}, artist_id, country, count(*), count(DISTINCT user_id),
                   COALESCE(sum(ms_played), 0), count(ms_played),
                   count(*) FILTER (WHERE ms_played < 30000)
            FROM ({good}) g GROUP BY artist_id, country""",
        "agg_tracks": f"""
            SELECT {day}, track_id, count(*), count(DISTINCT user_id)
            FROM ({good}) g GROUP BY track_id""",
        "agg_listeners": f"""
            SELECT {day}, user_id, count(*), COALESCE(sum(ms_played), 0),
                   1 + count(*) FILTER (WHERE gap > interval '30 minutes')
            FROM (SELECT user_id, ms_played, played_at - lag(played_at) OVER (
                      PARTITION BY user_id ORDER BY played_at) AS gap
                  FROM ({good}) g) s
            GROUP BY user_id""",
        "agg_hours": f"""
            SELECT {day}, extract(hour FROM played_at AT TIME ZONE 'UTC')::int, count(*)
            FROM ({good}) g GROUP BY 3""",
    }
    with engine.begin() as connection:
        for table in TABLES:
            connection.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS pg_{table} (LIKE {table} INCLUDING ALL)"
            )
    began = time.perf_counter()
    with engine.begin() as connection:
        for name, value in PG_SETTINGS.items():
            connection.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
        for table, query in inserts.items():
            connection.exec_driver_sql(f"DELETE FROM pg_{table}")
            connection.exec_driver_sql(f"INSERT INTO pg_{table} {query}")
    return {"seconds": time.perf_counter() - began, "peak_mib": 0.0}


def run_duckdb(url: str) -> dict[str, float]:
    """DuckDB reads the tables out of PostgreSQL, aggregates, writes ``duck_<table>`` back."""
    import adbc_driver_postgresql.dbapi as adbc
    import duckdb

    from spotify_agent.warehouse.engine import libpq_uri

    began = time.perf_counter()
    with adbc.connect(libpq_uri(url)) as pg, duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        with pg.cursor() as cursor:
            for name, sql in {
                "events": "SELECT user_id, played_at, track_id, ms_played FROM listening_events "
                f"WHERE played_at >= '{START}' AND played_at < '{END}'",
                "tracks": "SELECT track_id, artist_id FROM catalogue_tracks",
                "listeners": "SELECT user_id, country FROM listener_profiles "
                "WHERE country IS NOT NULL",
            }.items():
                cursor.execute(sql)
                db.register(f"pg_{name}", cursor.fetch_record_batch())
                db.execute(f"CREATE TABLE {name} AS SELECT * FROM pg_{name}")
                db.unregister(f"pg_{name}")
        db.execute(
            """CREATE TABLE e AS
               SELECT e.user_id, e.played_at, e.track_id, e.ms_played, t.artist_id,
                      COALESCE(l.country, 'ZZ') AS country
               FROM events e JOIN tracks t USING (track_id)
               LEFT JOIN listeners l USING (user_id)"""
        )
        day = f"'day' AS kind, to_timestamp({DAY.timestamp():.0f}) AS period_start"
        queries = {
            "agg_artist_country": f"""
                SELECT {day}, artist_id, country, count(*)::BIGINT AS plays,
                       count(DISTINCT user_id)::BIGINT AS listeners,
                       COALESCE(sum(ms_played), 0)::BIGINT AS ms_played,
                       count(ms_played)::BIGINT AS timed_plays,
                       (count(*) FILTER (WHERE ms_played < 30000))::BIGINT AS skips
                FROM e GROUP BY artist_id, country""",
            "agg_tracks": f"""
                SELECT {day}, track_id, count(*)::BIGINT AS plays,
                       count(DISTINCT user_id)::BIGINT AS listeners
                FROM e GROUP BY track_id""",
            "agg_listeners": f"""
                SELECT {day}, user_id, count(*)::BIGINT AS plays,
                       COALESCE(sum(ms_played), 0)::BIGINT AS ms_played,
                       (1 + count(*) FILTER (WHERE gap_us > 1800000000))::BIGINT AS sessions
                FROM (SELECT user_id, ms_played,
                             epoch_us(played_at) - epoch_us(lag(played_at) OVER (
                                 PARTITION BY user_id ORDER BY played_at)) AS gap_us
                      FROM e)
                GROUP BY user_id""",
            "agg_hours": f"""
                SELECT {day}, CAST(hour(played_at AT TIME ZONE 'UTC') AS INTEGER) AS hour,
                       count(*)::BIGINT AS plays
                FROM e GROUP BY hour""",
        }
        with pg.cursor() as cursor:
            for table, query in queries.items():
                cursor.execute(f"CREATE TABLE IF NOT EXISTS duck_{table} (LIKE {table})")
                cursor.execute(f"DELETE FROM duck_{table}")
                cursor.adbc_ingest(f"duck_{table}", db.sql(query).to_arrow_table(), mode="append")
        pg.commit()
    return {"seconds": time.perf_counter() - began, "peak_mib": peak_mib()}


RUN = {"ours": run_ours, "postgresql": run_postgres, "duckdb": run_duckdb}
PREFIX = {"postgresql": "pg", "duckdb": "duck"}  # where each baseline writes its tables


def differing_rows(engine: Any, prefix: str) -> int:
    """Rows in ours and not in ``<prefix>_<table>``, or the other way round, over all tables."""
    differ = 0
    with engine.connect() as connection:
        for table in TABLES:
            for a, b in ((table, f"{prefix}_{table}"), (f"{prefix}_{table}", table)):
                differ += connection.exec_driver_sql(
                    f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) d"
                ).scalar_one()
    return int(differ)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M plays instead of 10M (CI)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--run-one", nargs=2, metavar=("WAY", "URL"))
    args = parser.parse_args()
    if args.run_one:
        way, url = args.run_one
        print(json.dumps(RUN[way](url)))
        return 0

    from spotify_agent.warehouse.engine import make_engine

    size = QUICK if args.quick else FULL
    ways = list(RUN)
    with fresh_postgres(prefix="bench_e2e") as url:
        engine = make_engine(url)
        began = time.perf_counter()
        plays = plant_day(engine, size)
        planted = time.perf_counter() - began
        with engine.connect() as connection:
            server = connection.exec_driver_sql("SHOW server_version").scalar_one()
        runs: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
        for _ in range(args.repeats):
            for way in ways:
                runs[way].append(measure_in_fresh_process(__file__, way, url))
        differ = {way: differing_rows(engine, prefix) for way, prefix in PREFIX.items()}
        with engine.connect() as connection:
            rows = {
                table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in TABLES
            }
        engine.dispose()

    seconds = {way: statistics.median(r["seconds"] for r in runs[way]) for way in ways}
    print(
        f"The day's aggregation, end to end in PostgreSQL {server}: {plays:,} plays "
        f"({size['users']:,} listeners, {size['tracks']:,} tracks; planted with COPY in "
        f"{planted:.0f} s), median of {args.repeats} run(s)"
    )
    print("PostgreSQL baseline settings: " + ", ".join(f"{k}={v}" for k, v in PG_SETTINGS.items()))
    print("result rows: " + ", ".join(f"{table} {n:,}" for table, n in rows.items()))
    print(
        f"{'way':<11} {'seconds':>8} {'plays/s':>11} {'vs ours':>8} {'peak MiB':>9} {'rows differ':>12}"
    )
    for way in ways:
        peak = max(r["peak_mib"] for r in runs[way])
        print(
            f"{way:<11} {seconds[way]:>8.2f} {plays / seconds[way]:>11,.0f} "
            f"{seconds['ours'] / seconds[way]:>7.2f}x "
            f"{(f'{peak:.0f}' if peak else '-'):>9} {differ.get(way, '-'):>12}"
        )
    verdicts = [
        _speed(seconds["ours"], "postgresql INSERT ... SELECT", seconds["postgresql"], MIN_VS_POSTGRES),
        _speed(seconds["ours"], "duckdb, reading from and writing to postgresql", seconds["duckdb"], MIN_VS_DUCKDB),
        ratio_verdict(
            "aggregation_e2e", "rows_differing", sum(differ.values()), "none", 1,
            op="<=", target=0.0,
        ),
    ]  # fmt: skip
    if not args.quick:
        peak = max(r["peak_mib"] for r in runs["ours"])
        verdicts.append(
            ratio_verdict(
                "aggregation_e2e", "peak_mib", peak, "budget", MAX_PEAK_MIB, op="<=", target=1.0
            )
        )
    print()
    print("\n".join(verdicts))
    return exit_code(verdicts)


def _speed(ours: float, name: str, theirs: float, target: float) -> str:
    """A target on their time / ours (seconds printed as ours and the baseline)."""
    from verdicts import verdict

    ratio = theirs / ours
    return verdict(
        "aggregation_e2e",
        "seconds",
        ours=f"{ours:.2f}",
        baseline=name,
        base=f"{theirs:.2f}",
        ratio=f"{ratio:.2f}",
        target=f">= {target}",
        ok=ratio >= target,
    )


if __name__ == "__main__":
    sys.exit(main())
