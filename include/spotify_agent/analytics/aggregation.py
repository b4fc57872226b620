"""The daily listening aggregation: exact counts from one day's plays, with bad plays set aside.

Input, as Arrow-compatible tables (Parquet extracts in the pipeline):

- ``events``: ``user_id``, ``played_at`` (UTC timestamp), ``track_id``, ``ms_played`` (nullable:
  the recently-played API does not say how long a track was played);
- ``tracks``: ``track_id`` -> ``artist_id`` (the catalogue dimension);
- ``listeners``: ``user_id`` -> ``country`` (ISO 3166 alpha-2; from the service's own user
  records, Spotify no longer gives it). A listener without one counts under ``ZZ``.

A play is set aside, with the first reason that applies, when it lacks a user, time or track
(``missing_field``), is in the future (``in_future``), outside the day (``outside_interval``),
of a track the catalogue does not know (``unknown_track``), has a negative ``ms_played``
(``negative_duration``) or one longer than :data:`MAX_PLAY_MS` (``absurd_duration``), or repeats
the (user, played_at, track) of an earlier good play in the input (``duplicate``: only good
plays are compared, so a broken copy never hides a good one). A dimension that names a track or
a listener twice is refused with :class:`AmbiguousDimension`. The good plays give:

- ``artist_country``: plays, exact unique listeners, listening time, timed plays and skips per
  (artist, country); skip rate = skips / timed plays, a skip being a timed play under
  :data:`SKIP_UNDER_MS` (Spotify's "stream" threshold);
- ``tracks``: plays and exact unique listeners per track;
- ``users``: plays, listening time and sessions per listener (a new session starts after more
  than :data:`SESSION_GAP` without a play);
- ``hours``: plays per UTC hour of the day.

Every count is an integer (rates are derived from them), and every table is sorted by its key,
so two engines' results compare equal value for value. ``aggregate_day`` runs on polars (the
fastest engine measured by ``bench/aggregation.py``); :mod:`spotify_agent.analytics.engines`
holds the same aggregation in pandas and DuckDB, which a test holds equal to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

SKIP_UNDER_MS = 30_000
SESSION_GAP = timedelta(minutes=30)
# No track is six hours long; a longer play is a broken client or a forged file.
MAX_PLAY_MS = 6 * 3600 * 1000
UNKNOWN_COUNTRY = "ZZ"
REASONS = (
    "missing_field",
    "in_future",
    "outside_interval",
    "unknown_track",
    "negative_duration",
    "absurd_duration",
    "duplicate",
)

# The output tables: name -> (key columns, count columns), in order.
OUTPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "artist_country": (
        ("artist_id", "country"),
        ("plays", "listeners", "ms_played", "timed_plays", "skips"),
    ),
    "tracks": (("track_id",), ("plays", "listeners")),
    "users": (("user_id",), ("plays", "ms_played", "sessions")),
    "hours": (("hour",), ("plays",)),
}


class AmbiguousDimension(ValueError):
    """``tracks`` or ``listeners`` holds a key twice: which artist or country counts is unclear."""


@dataclass(frozen=True)
class DayAggregates:
    """The day's tables (Arrow, sorted by key) and the plays set aside, with their reason."""

    tables: Mapping[str, pa.Table]
    rejected: pa.Table  # the input columns + ``reason``

    @property
    def rejected_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(REASONS, 0)
        for reason in self.rejected.column("reason").to_pylist():
            counts[reason] += 1
        return counts

    @property
    def plays(self) -> int:
        return int(sum(self.tables["hours"].column("plays").to_pylist()))


def aggregate_day(
    events: Any,
    tracks: Any,
    listeners: Any,
    *,
    day_start: datetime,
    day_end: datetime,
    now: datetime,
) -> DayAggregates:
    """Aggregate the plays of ``[day_start, day_end)``. Inputs are polars frames (lazy or not),
    Arrow tables or Parquet paths; ``now`` decides what is "in the future"."""
    import polars as pl

    try:
        classified = _classify(
            _lazy(events), _lazy(tracks), _lazy(listeners), day_start, day_end, now
        ).collect()
    except pl.exceptions.ComputeError as error:
        if "validation" not in str(error):
            raise
        raise AmbiguousDimension(
            f"a track_id in tracks or a user_id in listeners appears more than once: {error}"
        ) from None
    good = classified.filter(pl.col("reason").is_null()).drop("reason")
    users = _users(good.lazy(), _session_sort_key(good, day_start, day_end))
    lazy = good.lazy()
    tables = pl.collect_all([_artist_country(lazy), _tracks(lazy), users, _hours(lazy)])
    rejected = classified.filter(pl.col("reason").is_not_null()).select(
        pl.col("user_id", "track_id").cast(pl.String),
        "played_at",
        "ms_played",
        "reason",
    )
    return DayAggregates(
        tables={
            name: _sorted(table, name).to_arrow()
            for name, table in zip(OUTPUTS, tables, strict=True)
        },
        rejected=rejected.sort(
            "played_at", "user_id", "track_id", nulls_last=True, maintain_order=True
        ).to_arrow(),
    )


def _lazy(source: Any) -> pl.LazyFrame:
    import polars as pl

    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if isinstance(source, str) or hasattr(source, "__fspath__"):
        return pl.scan_parquet(source)
    return pl.from_arrow(source).lazy()  # type: ignore[union-attr]


def _classify(
    events: pl.LazyFrame,
    tracks: pl.LazyFrame,
    listeners: pl.LazyFrame,
    day_start: datetime,
    day_end: datetime,
    now: datetime,
) -> pl.LazyFrame:
    import polars as pl

    played_at, ms = pl.col("played_at"), pl.col("ms_played")
    problem = (
        pl.when(pl.any_horizontal(pl.col("user_id", "played_at", "track_id").is_null()))
        .then(pl.lit("missing_field"))
        .when(played_at > now)
        .then(pl.lit("in_future"))
        .when((played_at < day_start) | (played_at >= day_end))
        .then(pl.lit("outside_interval"))
        .when(pl.col("artist_id").is_null())
        .then(pl.lit("unknown_track"))
        .when(ms < 0)
        .then(pl.lit("negative_duration"))
        .when(ms > MAX_PLAY_MS)
        .then(pl.lit("absurd_duration"))
        .otherwise(None)
    )
    # Among good plays only (a bad play differs in `problem`), in input order (the joins keep
    # it): the first of a key counts.
    repeated = (
        pl.col("problem").is_null()
        & ~pl.struct("problem", "user_id", "played_at", "track_id").is_first_distinct()
    )
    # Categorical ids from the start: the joins, the duplicate check, every group-by and distinct
    # count and the session sort then work on integers instead of strings.
    ids = pl.Categorical
    return (
        events.select(
            pl.col("user_id").cast(ids),
            "played_at",
            pl.col("track_id").cast(ids),
            pl.col("ms_played").cast(pl.Int64),
        )
        .join(
            tracks.select(pl.col("track_id").cast(ids), pl.col("artist_id").cast(ids)),
            on="track_id",
            how="left",
            validate="m:1",
            maintain_order="left",
        )
        .join(
            listeners.select(pl.col("user_id").cast(ids), pl.col("country").cast(ids)),
            on="user_id",
            how="left",
            validate="m:1",
            maintain_order="left",
        )
        .with_columns(
            pl.col("country").fill_null(UNKNOWN_COUNTRY),
            problem.alias("problem"),
        )
        .with_columns(
            pl.when(repeated).then(pl.lit("duplicate")).otherwise(pl.col("problem")).alias("reason")
        )
        .drop("problem")
    )


def _artist_country(good: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    ms = pl.col("ms_played")
    return good.group_by("artist_id", "country").agg(
        pl.len().alias("plays"),
        pl.col("user_id").n_unique().alias("listeners"),
        ms.sum().alias("ms_played"),
        ms.is_not_null().sum().alias("timed_plays"),
        (ms < SKIP_UNDER_MS).sum().alias("skips"),
    )


def _tracks(good: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    return good.group_by("track_id").agg(
        pl.len().alias("plays"), pl.col("user_id").n_unique().alias("listeners")
    )


def _session_sort_key(good: pl.DataFrame, start: datetime, end: datetime) -> pl.Expr:
    """What to sort the plays by so each listener's plays are consecutive and in time order:
    one 64-bit integer (listener code, then microseconds into the interval) when both fit, which
    sorts several times faster than the two columns it stands for."""
    import polars as pl

    time_bits = int((end - start) / timedelta(microseconds=1)).bit_length()
    codes = good.get_column("user_id").to_physical()
    code_bits = int(codes.max() or 0).bit_length()  # type: ignore[arg-type]
    if code_bits + time_bits > 64:
        return pl.struct("user_code", "played_at")
    offset = pl.col("played_at").dt.epoch("us") - int(start.timestamp() * 1_000_000)
    return pl.col("user_code").cast(pl.UInt64) * (1 << time_bits) + offset.cast(pl.UInt64)


def _users(good: pl.LazyFrame, sort_key: pl.Expr) -> pl.LazyFrame:
    """Per listener; sessions counted in one pass over the plays sorted by (listener, time)."""
    import polars as pl

    user = pl.col("user_code")
    starts_session = (user != user.shift()).fill_null(True) | (
        pl.col("played_at").diff() > SESSION_GAP
    )
    return (
        good.select(
            "user_id", pl.col("user_id").to_physical().alias("user_code"), "played_at", "ms_played"
        )
        .sort(sort_key)
        .with_columns(starts_session.alias("starts_session"))
        .set_sorted("user_code")
        .group_by("user_code")
        .agg(
            pl.col("user_id").first(),
            pl.len().alias("plays"),
            pl.col("ms_played").sum(),
            pl.col("starts_session").sum().alias("sessions"),
        )
        .drop("user_code")
    )


def _hours(good: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    return good.group_by(pl.col("played_at").dt.hour().alias("hour")).agg(pl.len().alias("plays"))


def _sorted(table: pl.DataFrame, name: str) -> pl.DataFrame:
    """Canonical column order and types, sorted by key: what every engine must produce."""
    import polars as pl

    keys, counts = OUTPUTS[name]
    return table.select(
        *[pl.col(k).cast(pl.Int8 if k == "hour" else pl.String) for k in keys],
        *[pl.col(c).cast(pl.Int64) for c in counts],
    ).sort(*keys)
