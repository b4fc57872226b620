"""Warehouse side of the aggregation: the period's extract, and replacing the period's rows.

A period is ``kind`` "day" (a finished UTC day) or "partial" (a day so far). Its rows in every
aggregate table are replaced in one transaction, so a re-run writes the same rows and a reader
never sees half a period; a day's rows replace that day's partial, and a partial never replaces
a day that is already written.

A day is finished :data:`SETTLE` after its midnight, once the hourly ingest that started at
midnight has landed the day's last plays; until then runs refresh its partial.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, delete, select

from spotify_agent.analytics.aggregation import DayAggregates, ListeningData, aggregate_day
from spotify_agent.core.quarantine import QuarantinedItem
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
from spotify_agent.warehouse.times import midnight_utc, stored_utc

Kind = Literal["day", "partial"]
TABLES = {
    "artist_country": agg_artist_country,
    "tracks": agg_tracks,
    "users": agg_listeners,
    "hours": agg_hours,
}
QUARANTINE_SOURCE = "streaming_aggregation"
SETTLE = timedelta(hours=1)
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


def period_for(interval_end: datetime, day: Any = None) -> Period:
    """The period of a run whose interval ends at ``interval_end``: yesterday, finished, at
    exactly :data:`SETTLE` past midnight; yesterday so far before that; today so far after.
    ``day`` (a date) asks for that finished day instead."""
    if day is not None:
        start = midnight_utc(day)
        return Period("day", start, start + timedelta(days=1))
    # A plain datetime: Airflow hands pendulum ones, whose arithmetic differs in small ways.
    end = datetime.fromtimestamp(interval_end.timestamp(), UTC)
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = midnight - timedelta(days=1)
    if end - midnight == SETTLE:
        return Period("day", yesterday, midnight)
    if end - midnight < SETTLE:
        return Period("partial", yesterday, midnight)
    return Period("partial", midnight, end)


def missing_day(connection: Connection, period: Period) -> Period | None:
    """The day before ``period`` when ``period`` is a day's partial past :data:`SETTLE` and that
    day was never written (its 01:00 run skipped, or failed for good): the run writes it too."""
    if period.kind != "partial" or period.end - period.start < SETTLE:
        return None
    yesterday = Period("day", period.start - timedelta(days=1), period.start)
    return None if _day_written(connection, yesterday.start) else yesterday


def extract(connection: Connection, period: Period, folder: Path) -> ListeningData:
    """The period's plays and the dimension rows they need, written as the Parquet files
    ``aggregate_day`` reads: the plays batch by batch, so no more than a batch of them is ever
    held in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    data = ListeningData.in_folder(folder)
    in_period = (listening_events.c.played_at >= period.start) & (
        listening_events.c.played_at < period.end
    )
    query = select(
        listening_events.c.user_id,
        listening_events.c.played_at,
        listening_events.c.track_id,
        listening_events.c.ms_played,
    ).where(in_period)
    schema = pa.schema(
        [
            ("user_id", pa.string()),
            ("played_at", pa.timestamp("us", tz="UTC")),
            ("track_id", pa.string()),
            ("ms_played", pa.int64()),
        ]
    )
    with pq.ParquetWriter(data.events, schema) as writer:
        for rows in _batches(connection, query):
            user_ids, played_ats, track_ids, ms_played = zip(*rows, strict=True)
            writer.write_batch(
                pa.record_batch(
                    [
                        pa.array(user_ids, pa.string()),
                        pa.array(
                            [stored_utc(at) for at in played_ats],
                            schema.field("played_at").type,
                        ),
                        pa.array(track_ids, pa.string()),
                        pa.array(ms_played, pa.int64()),
                    ],
                    schema=schema,
                )
            )
    tracks_played = select(listening_events.c.track_id).where(in_period).distinct()
    tracks = _table(
        connection,
        select(catalogue_tracks.c.track_id, catalogue_tracks.c.artist_id).where(
            catalogue_tracks.c.track_id.in_(tracks_played)
        ),
        ("track_id", "artist_id"),
    )
    listeners_seen = select(listening_events.c.user_id).where(in_period).distinct()
    listeners = _table(
        connection,
        select(listener_profiles.c.user_id, listener_profiles.c.country).where(
            listener_profiles.c.user_id.in_(listeners_seen),
            listener_profiles.c.country.is_not(None),
        ),
        ("user_id", "country"),
    )
    pq.write_table(tracks, data.tracks)
    pq.write_table(listeners, data.listeners)
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
        written[name] = 0
        # Batch by batch: a day's million listeners as Python dicts at once would take GBs.
        for batch in result.tables[name].to_batches(max_chunksize=_BATCH):
            rows = batch.to_pylist()
            if name == "users" and without:
                rows = [row for row in rows if row["user_id"] not in without]
            if rows:
                connection.execute(
                    table.insert(),
                    [{**row, "kind": period.kind, "period_start": period.start} for row in rows],
                )
            written[name] += len(rows)
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
    "unknown_track": "track_id",
    "negative_duration": "ms_played",
    "absurd_duration": "ms_played",
}


def _day_written(connection: Connection, start: datetime) -> bool:
    query = select(aggregation_periods.c.kind).where(
        aggregation_periods.c.kind == "day", aggregation_periods.c.period_start == start
    )
    return connection.execute(query).first() is not None


def _batches(connection: Connection, query: Any) -> Iterator[Sequence[Any]]:
    # Per statement: Connection.execution_options() would change the connection for good, and
    # a later DELETE on it would run through a server-side cursor (PostgreSQL refuses).
    result = connection.execute(query, execution_options={"yield_per": _BATCH})
    yield from result.partitions()


def _table(connection: Connection, query: Any, names: tuple[str, str]) -> Any:
    import pyarrow as pa

    rows = connection.execute(query).all()
    return pa.table(
        {name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(names)}
    )
