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
so two engines' results compare equal value for value. :mod:`spotify_agent.analytics.engines`
holds the same aggregation in pandas, DuckDB and plain polars, which a test holds equal to this.

How it stays within 1 GiB for a 10M-play day (``bench/aggregation.py``): one streaming pass of
polars reads the plays with their ids as Categorical codes, so the id strings never exist for the
whole day at once, and notes the first thing wrong with each. One numpy sort of 64-bit (listener,
microsecond) keys then finds both the duplicates (only plays tied on listener and time can be
one) and the sessions. Exact listener counts come from sorting 64-bit (track or artist, listener)
pairs in place, not from a hash set of listeners per group, which took twice the memory of the
plays themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
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


@dataclass(frozen=True)
class ListeningData:
    """The three Parquet files of a period's extract."""

    events: Path
    tracks: Path
    listeners: Path

    @classmethod
    def in_folder(cls, folder: Path) -> ListeningData:
        return cls(
            folder / "events.parquet", folder / "tracks.parquet", folder / "listeners.parquet"
        )


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

    track_artists = _dimension(tracks, "track_id", "artist_id", "tracks")
    listener_countries = _dimension(listeners, "user_id", "country", "listeners")
    coded = _coded_plays(_lazy(events), track_artists, day_start, day_end, now)
    time_bits = _time_bits(day_start, day_end)
    key_expr = _listener_time_key(coded, day_start, time_bits)
    # One sort of the good plays' (listener, time) keys finds the duplicates and the sessions.
    sorted_keys = _sorted_keys(coded, key_expr)
    coded = _mark_duplicates(coded, key_expr, sorted_keys)
    sessions = _sessions(sorted_keys, time_bits)
    del sorted_keys
    good = coded.lazy().filter(pl.col("reason").is_null())
    hours = _hours(good).collect(engine="streaming")
    rejected = _rejected(coded.filter(pl.col("reason").is_not_null()))
    # Counting needs only listener, track and time played: the largest frame from here on.
    plays = good.select("user_id", "track_id", pl.col("ms_played").cast(pl.Int32)).collect(
        engine="streaming"
    )
    del coded, good
    artist_of, country_of = _lookups(plays, track_artists, listener_countries)
    tables = {
        "artist_country": _artist_country(plays, artist_of, country_of),
        "tracks": _tracks(plays, track_artists.get_column("track_id")),
        "users": _users(plays.lazy(), sessions).collect(engine="streaming"),
        "hours": hours,
    }
    del plays
    return DayAggregates(
        tables={name: _sorted(tables[name], name).to_arrow() for name in OUTPUTS},
        rejected=rejected,
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


def _dimension(source: Any, key: str, value: str, name: str) -> pl.DataFrame:
    """``key`` -> ``value``, both Categorical (so they share the plays' codes); refused when a
    key appears twice."""
    import polars as pl

    frame = (
        _lazy(source)
        .select(pl.col(key).cast(pl.Categorical), pl.col(value).cast(pl.Categorical))
        .drop_nulls(key)
        .collect()
    )
    repeated = frame.filter(pl.col(key).is_duplicated()).get_column(key)
    if len(repeated):
        raise AmbiguousDimension(
            f"{key} {repeated.cast(pl.String)[0]!r} appears more than once in {name}: "
            f"which {value} counts is unclear"
        )
    return frame


def _coded_plays(
    events: pl.LazyFrame,
    track_artists: pl.DataFrame,
    day_start: datetime,
    day_end: datetime,
    now: datetime,
) -> pl.DataFrame:
    """Every play, its ids as Categorical codes and ``reason`` the index in :data:`REASONS` of
    the first thing wrong with it (null when nothing is; duplicates are found later). Read in
    streaming batches, so the ids' strings never exist for the whole day at once."""
    import polars as pl

    def reason(name: str) -> pl.Expr:
        return pl.lit(REASONS.index(name), pl.UInt8)

    known_tracks = track_artists.filter(pl.col("artist_id").is_not_null()).get_column("track_id")
    played_at, ms = pl.col("played_at"), pl.col("ms_played")
    first_problem = (
        pl.when(pl.any_horizontal(pl.col("user_id", "played_at", "track_id").is_null()))
        .then(reason("missing_field"))
        .when(played_at > now)
        .then(reason("in_future"))
        .when((played_at < day_start) | (played_at >= day_end))
        .then(reason("outside_interval"))
        .when(~pl.col("track_id").to_physical().is_in(known_tracks.to_physical().implode()))
        .then(reason("unknown_track"))
        .when(ms < 0)
        .then(reason("negative_duration"))
        .when(ms > MAX_PLAY_MS)
        .then(reason("absurd_duration"))
    )
    return (
        events.select(
            pl.col("user_id").cast(pl.Categorical),
            "played_at",
            pl.col("track_id").cast(pl.Categorical),
            # 32-bit durations stay 32-bit here: 40 MB less for a 10M-play day.
            ms
            if events.collect_schema()["ms_played"] in (pl.Int32, pl.Int64)
            else ms.cast(pl.Int64),
        )
        .with_columns(first_problem.alias("reason"))
        .collect(engine="streaming")
    )


def _time_bits(day_start: datetime, day_end: datetime) -> int:
    """Bits for microseconds into the interval, with room for one more session gap: the keys of
    two listeners are then always more than :data:`SESSION_GAP` apart."""
    return int((day_end - day_start + SESSION_GAP) / timedelta(microseconds=1)).bit_length()


def _listener_time_key(coded: pl.DataFrame, day_start: datetime, time_bits: int) -> pl.Expr:
    """One 64-bit integer per play, listener code then microseconds into the interval: sorting
    it puts each listener's plays together in time order, several times faster than sorting
    the two columns it stands for."""
    import polars as pl

    code_bits = int(coded.get_column("user_id").to_physical().max() or 0).bit_length()  # type: ignore[arg-type]
    if code_bits + time_bits > 64:
        # A day leaves 27 bits: 134M distinct ids in the process before this is reached.
        raise ValueError(
            f"listener codes ({code_bits} bits) and microseconds into the interval from "
            f"{day_start.isoformat()} ({time_bits} bits) do not fit in a 64-bit key"
        )
    into_interval = pl.col("played_at").dt.epoch("us") - int(day_start.timestamp() * 1_000_000)
    listener = pl.col("user_id").to_physical().cast(pl.UInt64)
    # Not strict: a bad play's time may lie before the interval (null key); good ones never do.
    return listener * (1 << time_bits) + into_interval.cast(pl.UInt64, strict=False)


def _sorted_keys(coded: pl.DataFrame, key_expr: pl.Expr) -> Any:
    """The good plays' keys, sorted in place (numpy's vectorised sort: a tenth of a second for
    10M)."""
    import polars as pl

    good = coded.lazy().filter(pl.col("reason").is_null()).select(key_expr)
    keys = good.collect(engine="streaming").to_series().to_numpy(writable=True)
    keys.sort()
    return keys


def _mark_duplicates(coded: pl.DataFrame, key_expr: pl.Expr, sorted_keys: Any) -> pl.DataFrame:
    """``reason`` set to ``duplicate`` on each good play that repeats the (listener, played_at,
    track) of an earlier good play. Only a listener-and-microsecond tie can be one, and the
    sorted keys show the few there are; among their plays, in input order, the first of each
    exact (listener, played_at, track) counts."""
    import numpy as np
    import polars as pl

    ties = np.unique(sorted_keys[1:][sorted_keys[1:] == sorted_keys[:-1]])
    if not len(ties):
        return coded
    repeats = (
        coded.lazy()
        .with_row_index("row")
        .filter(pl.col("reason").is_null() & key_expr.is_in(pl.Series(ties).implode()))
        .filter(~pl.struct("user_id", "played_at", "track_id").is_first_distinct())
        .collect()
        .get_column("row")
    )
    reason = coded.get_column("reason").scatter(repeats, REASONS.index("duplicate"))
    return coded.with_columns(reason)


def _sessions(keys: Any, time_bits: int) -> pl.DataFrame:
    """Sessions per listener code, from the sorted keys: a play starts one when more than
    :data:`SESSION_GAP` passed since the key before it (a repeated play is 0 us after its
    original and starts none)."""
    import numpy as np
    import polars as pl

    starts = np.empty(len(keys), dtype=bool)
    starts[:1] = True
    np.greater(np.diff(keys), SESSION_GAP // timedelta(microseconds=1), out=starts[1:])
    session_keys = keys[starts]
    session_keys >>= np.uint64(time_bits)
    per_listener = np.bincount(session_keys)
    listeners = np.flatnonzero(per_listener)
    return pl.DataFrame(
        {
            "user_code": listeners.astype(np.uint32),
            "sessions": per_listener[listeners].astype(np.int64),
        }
    )


def _rejected(bad: pl.DataFrame) -> pa.Table:
    """The plays set aside, whole, with their reason by name, in time order."""
    import polars as pl

    return (
        bad.select(
            pl.col("user_id", "track_id").cast(pl.String),
            "played_at",
            pl.col("ms_played").cast(pl.Int64),
            pl.col("reason").replace_strict(dict(enumerate(REASONS)), return_dtype=pl.String),
        )
        .sort("played_at", "user_id", "track_id", nulls_last=True, maintain_order=True)
        .to_arrow()
    )


def _lookups(
    plays: pl.DataFrame, track_artists: pl.DataFrame, listener_countries: pl.DataFrame
) -> tuple[pl.Series, pl.Series]:
    """Artist by track code and country by listener code (``ZZ`` when unknown), long enough for
    every code in the plays and the dimensions."""
    size = 1 + max(
        int(column.to_physical().max() or 0)  # type: ignore[arg-type]
        for column in (
            plays.get_column("user_id"),
            plays.get_column("track_id"),
            track_artists.get_column("track_id"),
            listener_countries.get_column("user_id"),
        )
    )
    artist_of = _by_code(track_artists, size)
    return artist_of, _by_code(listener_countries, size).fill_null(UNKNOWN_COUNTRY)


def _by_code(dimension: pl.DataFrame, size: int) -> pl.Series:
    """The dimension as a lookup: ``series[code]`` is the value of the key with that code, null
    for a key the dimension lacks."""
    import polars as pl

    key, value = dimension.columns
    return pl.repeat(None, size, dtype=pl.Categorical, eager=True).scatter(
        dimension.get_column(key).to_physical(), dimension.get_column(value)
    )


def _artist_country(
    plays: pl.DataFrame, artist_of: pl.Series, country_of: pl.Series
) -> pl.DataFrame:
    """Plays, listening time, timed plays and skips per (artist, country) by a group-by on
    codes; exact listeners from :func:`_listeners_per_artist_country`."""
    import polars as pl

    ms = pl.col("ms_played")
    counts = (
        plays.lazy()
        .group_by(
            pl.lit(artist_of).gather(pl.col("track_id").to_physical()).alias("artist_id"),
            pl.lit(country_of).gather(pl.col("user_id").to_physical()).alias("country"),
        )
        .agg(
            pl.len().alias("plays"),
            ms.cast(pl.Int64).sum().alias("ms_played"),
            ms.is_not_null().sum().alias("timed_plays"),
            (ms < SKIP_UNDER_MS).sum().alias("skips"),
        )
        .collect(engine="streaming")
    )
    listeners = _listeners_per_artist_country(
        plays,
        artist_of.to_physical().fill_null(0).to_numpy(),
        country_of.to_physical().to_numpy(),
    )
    return counts.join(
        listeners,
        left_on=[pl.col("artist_id").to_physical(), pl.col("country").to_physical()],
        right_on=["artist_code", "country_code"],
    ).select("artist_id", "country", "plays", "listeners", "ms_played", "timed_plays", "skips")


def _listeners_per_artist_country(
    plays: pl.DataFrame, artist_codes: Any, country_codes: Any
) -> pl.DataFrame:
    """Exact listeners per (artist, country) code: the distinct (artist, listener) pairs, then
    those pairs as (artist, country), counted by sorting 64-bit integers in place instead of
    keeping a set of listeners per group (which took twice the memory of the day's plays)."""
    import numpy as np
    import polars as pl

    tracks = plays.get_column("track_id").to_physical().to_numpy()
    pairs = _sorted_pairs(
        artist_codes[tracks], plays.get_column("user_id").to_physical().to_numpy()
    )
    del tracks
    pairs = pairs[_firsts(pairs)]
    _, listener = _halves(pairs)
    listener[:] = country_codes[listener]  # (artist, listener) -> (artist, country), in place
    pairs.sort()
    starts = np.flatnonzero(_firsts(pairs))
    artist, country = _halves(pairs[starts])
    return pl.DataFrame(
        {
            "artist_code": artist,
            "country_code": country,
            "listeners": np.diff(starts, append=len(pairs)).astype(np.int64),
        }
    )


def _tracks(plays: pl.DataFrame, track_ids: pl.Series) -> pl.DataFrame:
    """Plays and exact listeners per track, both from one in-place sort of the (track,
    listener) pairs."""
    import numpy as np
    import polars as pl

    pairs = _sorted_pairs(
        plays.get_column("track_id").to_physical().to_numpy(),
        plays.get_column("user_id").to_physical().to_numpy(),
    )
    new_listener = _firsts(pairs)
    track, _ = _halves(pairs)
    starts = np.flatnonzero(_firsts(track))
    counts = pl.DataFrame(
        {
            "track_code": track[starts],
            "plays": np.diff(starts, append=len(track)).astype(np.int64),
            "listeners": np.add.reduceat(new_listener, starts, dtype=np.int64)
            if len(starts)
            else np.empty(0, dtype=np.int64),
        }
    )
    return (
        track_ids.to_frame()
        .join(counts, left_on=pl.col("track_id").to_physical(), right_on="track_code")
        .select("track_id", "plays", "listeners")
    )


def _sorted_pairs(high: Any, low: Any) -> Any:
    """``high << 32 | low`` per row (two uint32 codes), sorted in place: numpy's vectorised
    sort of 64-bit integers groups rows faster, and in far less memory, than a hash table."""
    import numpy as np

    pairs = high.astype(np.uint64)
    pairs <<= np.uint64(32)
    pairs |= low
    pairs.sort()
    return pairs


def _halves(pairs: Any) -> tuple[Any, Any]:
    """The high and low 32 bits of each 64-bit pair, as views: no copy."""
    import numpy as np

    words = pairs.view(np.uint32)
    low, high = (0, 1) if sys.byteorder == "little" else (1, 0)
    return words[high::2], words[low::2]


def _firsts(sorted_values: Any) -> Any:
    """Where each run of equal values starts in a sorted array, as a boolean mask."""
    import numpy as np

    first = np.empty(len(sorted_values), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=first[1:])
    return first


def _users(plays: pl.LazyFrame, sessions: pl.DataFrame) -> pl.LazyFrame:
    """Plays and listening time per listener, with the sessions counted from the sorted keys."""
    import polars as pl

    return (
        plays.group_by("user_id")
        .agg(pl.len().alias("plays"), pl.col("ms_played").cast(pl.Int64).sum())
        .join(sessions.lazy(), left_on=pl.col("user_id").to_physical(), right_on="user_code")
        .select("user_id", "plays", "ms_played", "sessions")
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
