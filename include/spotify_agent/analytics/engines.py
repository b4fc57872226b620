"""The daily aggregation of :mod:`spotify_agent.analytics.aggregation` in each engine the
benchmark weighs: pandas, DuckDB and plain polars, each reading the same Parquet files.

They take clean input (no bad plays: validation is the pipeline's own step) and return the same
tables, in the same canonical form, as ``aggregate_day``; ``bench/aggregation.py`` times them
side by side and a test holds them equal to it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from spotify_agent.analytics.aggregation import (
    OUTPUTS,
    SESSION_GAP,
    SKIP_UNDER_MS,
    UNKNOWN_COUNTRY,
    _sorted,
)

Tables = dict[str, Any]  # name -> pyarrow.Table


def canonical(tables: dict[str, Any]) -> Tables:
    """Each engine's tables (Arrow or pandas) in the canonical column order, types and sort."""
    import polars as pl

    out = {}
    for name in OUTPUTS:
        table = tables[name]
        frame = pl.from_pandas(table) if hasattr(table, "iloc") else pl.from_arrow(table)
        out[name] = _sorted(frame, name).to_arrow()  # type: ignore[arg-type]
    return out


def with_polars(events: Path, tracks: Path, listeners: Path) -> Tables:
    """The plain way in polars: string keys, sessions by sorting each listener's plays."""
    import polars as pl

    joined = (
        pl.scan_parquet(events)
        .with_columns(pl.col("ms_played").cast(pl.Int64))
        .join(pl.scan_parquet(tracks).select("track_id", "artist_id"), on="track_id")
        .join(pl.scan_parquet(listeners), on="user_id", how="left")
        .with_columns(pl.col("country").fill_null(UNKNOWN_COUNTRY))
    ).collect()
    ms = pl.col("ms_played")
    frames = pl.collect_all(
        [
            joined.lazy()
            .group_by("artist_id", "country")
            .agg(
                pl.len().alias("plays"),
                pl.col("user_id").n_unique().alias("listeners"),
                ms.sum().alias("ms_played"),
                ms.is_not_null().sum().alias("timed_plays"),
                (ms < SKIP_UNDER_MS).sum().alias("skips"),
            ),
            joined.lazy()
            .group_by("track_id")
            .agg(pl.len().alias("plays"), pl.col("user_id").n_unique().alias("listeners")),
            joined.lazy()
            .group_by("user_id")
            .agg(
                pl.len().alias("plays"),
                ms.sum().alias("ms_played"),
                ((pl.col("played_at").sort().diff() > SESSION_GAP).sum() + 1).alias("sessions"),
            ),
            joined.lazy()
            .group_by(pl.col("played_at").dt.hour().alias("hour"))
            .agg(pl.len().alias("plays")),
        ]
    )
    return canonical({name: frame.to_arrow() for name, frame in zip(OUTPUTS, frames, strict=True)})


def with_duckdb(events: Path, tracks: Path, listeners: Path) -> Tables:
    import duckdb

    params = {
        "events": str(events),
        "tracks": str(tracks),
        "listeners": str(listeners),
        "unknown": UNKNOWN_COUNTRY,
    }
    with duckdb.connect() as db:
        db.execute(
            """
            CREATE TEMP TABLE e AS
            SELECT e.user_id, e.played_at, e.track_id, e.ms_played, t.artist_id,
                   COALESCE(l.country, $unknown) AS country
            FROM read_parquet($events) e
            JOIN read_parquet($tracks) t USING (track_id)
            LEFT JOIN read_parquet($listeners) l USING (user_id)
            """,
            params,
        )
        queries = {
            "artist_country": """
                SELECT artist_id, country, count(*) AS plays,
                       count(DISTINCT user_id) AS listeners,
                       COALESCE(sum(ms_played), 0) AS ms_played,
                       count(ms_played) AS timed_plays,
                       count(*) FILTER (WHERE ms_played < $skip_under_ms) AS skips
                FROM e GROUP BY artist_id, country""",
            "tracks": """
                SELECT track_id, count(*) AS plays, count(DISTINCT user_id) AS listeners
                FROM e GROUP BY track_id""",
            "users": """
                SELECT user_id, count(*) AS plays, COALESCE(sum(ms_played), 0) AS ms_played,
                       1 + count(*) FILTER (WHERE gap_s > $session_gap_s) AS sessions
                FROM (
                    SELECT user_id, ms_played,
                           epoch(played_at) - epoch(lag(played_at) OVER (
                               PARTITION BY user_id ORDER BY played_at)) AS gap_s
                    FROM e)
                GROUP BY user_id""",
            "hours": """
                SELECT CAST(hour(played_at AT TIME ZONE 'UTC') AS TINYINT) AS hour,
                       count(*) AS plays
                FROM e GROUP BY 1""",
        }
        constants = {
            "skip_under_ms": SKIP_UNDER_MS,
            "session_gap_s": int(SESSION_GAP.total_seconds()),
        }
        tables = {}
        for name, query in queries.items():
            used = {key: value for key, value in constants.items() if f"${key}" in query}
            tables[name] = db.sql(query, params=used).to_arrow_table()
        return canonical(tables)


def with_pandas(events: Path, tracks: Path, listeners: Path) -> Tables:
    import pandas as pd

    e = (
        pd.read_parquet(events)
        .merge(pd.read_parquet(tracks)[["track_id", "artist_id"]], on="track_id")
        .merge(pd.read_parquet(listeners), on="user_id", how="left")
    )
    e["country"] = e["country"].fillna(UNKNOWN_COUNTRY)
    e["skip"] = e["ms_played"] < SKIP_UNDER_MS  # NA compares False, as a skip needs a time
    artist_country = (
        e.groupby(["artist_id", "country"], sort=False)
        .agg(
            plays=("user_id", "size"),
            listeners=("user_id", "nunique"),
            ms_played=("ms_played", "sum"),
            timed_plays=("ms_played", "count"),
            skips=("skip", "sum"),
        )
        .reset_index()
    )
    tracks_out = (
        e.groupby("track_id", sort=False)
        .agg(plays=("user_id", "size"), listeners=("user_id", "nunique"))
        .reset_index()
    )
    ordered = e.sort_values(["user_id", "played_at"])
    gap = ordered["played_at"].diff()
    new_session = (gap > SESSION_GAP) & (ordered["user_id"] == ordered["user_id"].shift())
    users = (
        ordered.assign(new_session=new_session)
        .groupby("user_id", sort=False)
        .agg(
            plays=("user_id", "size"),
            ms_played=("ms_played", "sum"),
            sessions=("new_session", "sum"),
        )
        .reset_index()
    )
    users["sessions"] += 1
    hours = (
        e.groupby(e["played_at"].dt.hour.rename("hour"), sort=False)
        .size()
        .rename("plays")
        .reset_index()
    )
    return canonical(
        {"artist_country": artist_country, "tracks": tracks_out, "users": users, "hours": hours}
    )


ENGINES: dict[str, Callable[[Path, Path, Path], Tables]] = {
    "pandas": with_pandas,
    "duckdb": with_duckdb,
    "polars": with_polars,
}
