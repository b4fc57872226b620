"""Spotify call efficiency and robustness of artist monitoring, against the bundled emulator.

Three measurements, each side by side with a named baseline in the same run:

1. calls to fetch N artist profiles: ours on the extended tier (several-ids, 50 per call, plus
   the token) vs one call per artist (what the development tier forces, measured there);
2. throughput under the emulator's rolling rate limit: successful calls per window vs the calls
   the window allows, and 429s that escaped to the caller;
3. with 20% injected faults (429, 5xx, truncated, malformed, missing fields): the warehouse after
   snapshotting N artists vs the fault-free run's; a batch that fails is retried as Airflow
   would (the DAG's retries=3), and the diff counts rows lost or duplicated;
4. playlist writes: one playlist synced day after day (tracks leaving and new ones appended,
   tracks changing places, one day with nothing new): our write calls vs replacing the whole
   playlist every day, the writes on the unchanged day, and, with 20% faults on every call
   (damaged answers to writes that were applied included), tracks lost or duplicated.

    python bench/spotify_calls.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR / "include"), str(PROJECT_DIR / "plugins")]

from sqlalchemy import select  # noqa: E402

from spotify_agent.spotify.api import fetch_artists  # noqa: E402
from spotify_agent.spotify.errors import write_outcome_unknown  # noqa: E402
from spotify_agent.spotify.monitoring import batches, snapshot_artists  # noqa: E402
from spotify_agent.spotify.monitoring_store import record_batch  # noqa: E402
from spotify_agent.spotify.playlists import (  # noqa: E402
    MAX_ITEMS_PER_CALL,
    read_playlist,
    sync_playlist,
    track_uri,
)
from spotify_agent.spotify.resilience import Resilient  # noqa: E402
from spotify_agent.warehouse.engine import make_engine  # noqa: E402
from spotify_agent.warehouse.migrate import upgrade  # noqa: E402
from spotify_agent.warehouse.schema import artist_events, artist_releases, artist_snapshots  # noqa: E402
from spotify_emulator.config import CatalogSpec  # noqa: E402
from spotify_emulator.testing import EmulatorHandle, run_emulator  # noqa: E402

TASK_TRIES = 4  # the DAG's retries=3, plus the first try


def _hook(emulator: EmulatorHandle, **extra: Any) -> Any:
    from spotify_agent_airflow.hooks import spotify

    spotify._TOKEN_CACHES.clear()
    conn_id = f"spotify_bench_{emulator.tier}"
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(emulator.connection(**extra))
    return spotify.SpotifyHook(conn_id)


def _route_calls(emulator: EmulatorHandle, route: str) -> int:
    return sum(emulator.stats()["by_route"].get(route, {}).values())


def _artist_catalog(n_artists: int, *, seed: int, albums_per_artist: int) -> CatalogSpec:
    """``n_artists`` artists to snapshot, with as few tracks, users and plays as there can be."""
    return CatalogSpec(
        seed=seed,
        n_artists=n_artists,
        albums_per_artist=albums_per_artist,
        tracks_per_album=1,
        n_users=1,
        events_per_user=1,
    )


def bench_call_counts(n_artists: int) -> list[str]:
    spec = _artist_catalog(n_artists, seed=11, albums_per_artist=1)
    counts = {}
    for tier in ("extended", "development"):
        with run_emulator(tier=tier, catalog=spec) as emulator:
            hook = _hook(emulator)
            emulator.reset_stats()
            parsed = fetch_artists(hook.client, emulator.artist_ids()[:n_artists], tier=tier)
            assert len(parsed.valid) == n_artists, parsed.quarantined[:3]
            counts[tier] = emulator.stats()["total_calls"]
            tokens = _route_calls(emulator, "POST /api/token")
            print(f"  {tier:<12} {n_artists} artists: {counts[tier]} calls ({tokens} token)")
    target = math.ceil(n_artists / 50) + 1
    ours, naive = counts["extended"], counts["development"]
    return [
        f"bench spotify_calls: artist_profile_calls ours={ours} baseline(one call per artist, development tier)="
        f"{naive} ratio={ours / naive:.3f} target <= {target} calls: "
        + ("ok" if ours <= target else "SHORT")
    ]


def bench_throughput(n_calls: int, max_calls: int, window_s: float) -> list[str]:
    with run_emulator(tier="development", rate_limit=max_calls, rate_window_s=window_s) as emulator:
        hook = _hook(emulator, retries=10, max_retry_after_s=window_s + 1)
        ids = emulator.artist_ids()
        hook.client.artist(ids[0])  # token and connection warm-up, outside the timing
        emulator.set_rate_limit(max_calls, window_s=window_s)
        escaped = 0
        started = time.monotonic()
        done = 0
        for index in range(n_calls):
            try:
                hook.client.artist(ids[index % len(ids)])
                done += 1
            except Exception as error:  # noqa: BLE001 - counted as an unhandled failure
                escaped += 1
                print(f"  escaped: {type(error).__name__}: {error}")
        elapsed = time.monotonic() - started
        limited = emulator.stats()["rate_limited"]
    # A rolling window admits max_calls at once, then max_calls more each window: the most any
    # client could have made in `elapsed` seconds.
    allowed = max_calls * (math.floor(elapsed / window_s) + 1)
    ratio = done / allowed
    print(
        f"  {done} calls in {elapsed:.1f} s under {max_calls} per {window_s:.0f} s; {limited} answered 429 and were waited out"
    )
    return [
        f"bench spotify_calls: rate_limit_use ours={done} calls baseline(allowed by {max_calls}/{window_s:.0f}s over "
        f"{elapsed:.1f}s)={allowed:.0f} ratio={ratio:.2f} target >= 0.8: "
        + ("ok" if ratio >= 0.8 else "SHORT"),
        f"bench spotify_calls: unhandled_429s ours={escaped} baseline(none)=0 ratio=- target == 0: "
        + ("ok" if escaped == 0 else "SHORT"),
    ]


def _snapshot_run(
    emulator: EmulatorHandle, url: str, artist_ids: list[str], day: date
) -> dict[str, int]:
    hook = _hook(emulator)
    engine = make_engine(url)
    task_retries = 0
    for batch in batches(artist_ids, 50):
        # One mapped task: tried up to TASK_TRIES times, as Airflow retries it; each try writes
        # what it got (upserts), and a try that left artists out fails so the next one adds them.
        for attempt in range(1, TASK_TRIES + 1):
            try:
                client = Resilient(hook.client, backoff_s=0.05)
                result = snapshot_artists(client, batch, tier=emulator.tier, on=day)
            except Exception:  # noqa: BLE001 - Airflow would retry the mapped task
                if attempt == TASK_TRIES:
                    raise
                task_retries += 1
                continue
            with engine.begin() as connection:
                record_batch(
                    connection,
                    result,
                    day=day,
                    follower_jump_pct=10,
                    popularity_jump=5,
                    run_id="bench",
                    trace_id="0" * 31 + "1",
                    at=datetime.now(UTC),
                )
            if not result.incomplete:
                break
            if attempt == TASK_TRIES:
                raise RuntimeError(
                    f"artists still incomplete after {TASK_TRIES} tries: {result.incomplete}"
                )
            task_retries += 1
    engine.dispose()
    return {"task_retries": task_retries}


def _business_rows(url: str) -> set[tuple[str, str]]:
    engine = make_engine(url)
    rows: set[tuple[str, str]] = set()
    with engine.connect() as connection:
        for table in (artist_snapshots, artist_releases, artist_events):
            columns = [c for c in table.c if c.name not in ("run_id", "trace_id", "captured_at")]
            for row in connection.execute(select(*columns)):
                rows.add((table.name, json.dumps(list(row), default=str, sort_keys=True)))
    engine.dispose()
    return rows


def bench_faults(n_artists: int, fault_rate: float) -> list[str]:
    spec = _artist_catalog(n_artists, seed=5, albums_per_artist=2)
    day = date(2026, 11, 26)
    with tempfile.TemporaryDirectory() as folder:
        urls = {name: f"sqlite:///{folder}/{name}.db" for name in ("clean", "faulty")}
        for url in urls.values():
            upgrade(make_engine(url))
        with run_emulator(catalog=spec) as emulator:
            ids = emulator.artist_ids()[:n_artists]
            _snapshot_run(emulator, urls["clean"], ids, day)
            emulator.set_faults(
                f"rate={fault_rate},seed=3,kinds=429+500+502+503+truncated+malformed+missing_fields,retry_after=0"
            )
            emulator.reset_stats()
            outcome = _snapshot_run(emulator, urls["faulty"], ids, day)
            stats = emulator.stats()
        clean, faulty = _business_rows(urls["clean"]), _business_rows(urls["faulty"])
    diff = len(clean ^ faulty)
    injected = sum(stats["faults"].values()) if isinstance(stats.get("faults"), dict) else "?"
    print(
        f"  {n_artists} artists, {stats['total_calls']} calls, {injected} faults injected, "
        f"{outcome['task_retries']} batch retries; {len(clean)} business rows clean, {len(faulty)} with faults"
    )
    return [
        f"bench spotify_calls: fault_diff_rows ours={diff} baseline(fault-free run, {len(clean)} rows)=0 "
        f"ratio={diff / max(len(clean), 1):.3f} target == 0: " + ("ok" if diff == 0 else "SHORT")
    ]


PLAYLIST_WRITE_ROUTES = tuple(
    f"{method} /v1/playlists/{{playlist_id}}/items" for method in ("POST", "PUT", "DELETE")
)


def _chart_days(pool: list[str], size: int, days: int) -> list[list[str]]:
    """Day-by-day targets of one playlist. Even days: 2% of the tracks leave and as many new
    ones are appended (a curated list); odd days: ten tracks change places (a chart); the
    middle day repeats the day before (nothing new)."""
    import random

    rng = random.Random(5)  # noqa: S311 - reproducible benchmark data
    charts = [pool[:size]]
    spare = iter(pool[size:])
    for day in range(1, days):
        chart = list(charts[-1])
        churn = max(1, size // 50)
        if day == days // 2:
            pass
        elif day % 2 == 0:
            for _ in range(churn):
                chart.pop(rng.randrange(len(chart)))
            chart.extend(next(spare) for _ in range(churn))
        else:
            for _ in range(5):
                i, j = rng.randrange(len(chart)), rng.randrange(len(chart))
                chart[i], chart[j] = chart[j], chart[i]
        charts.append(chart)
    return charts


def bench_playlists(size: int, days: int, fault_rate: float) -> list[str]:
    spec = CatalogSpec(seed=13, n_artists=60, albums_per_artist=5, tracks_per_album=10, n_users=1)
    with run_emulator(tier="extended", catalog=spec) as emulator:
        hook = _hook(emulator)
        client = Resilient(hook.user_client)
        playlist_id = sorted(
            p.id for p in emulator.catalog.playlists.values() if p.owner_id == emulator.user_id
        )[0]
        charts = _chart_days([track_uri(t) for t in sorted(emulator.catalog.tracks)], size, days)
        sync_playlist(client, playlist_id, charts[0], is_uncertain=write_outcome_unknown)
        writes, unchanged_day_writes = 0, 0
        for day, chart in enumerate(charts[1:], start=1):
            emulator.reset_stats()
            sync_playlist(client, playlist_id, chart, is_uncertain=write_outcome_unknown)
            calls = sum(_route_calls(emulator, route) for route in PLAYLIST_WRITE_ROUTES)
            writes += calls
            if day == days // 2:
                unchanged_day_writes = calls
        assert list(read_playlist(client, playlist_id).uris) == charts[-1]
        replace_all = (days - 1) * math.ceil(size / MAX_ITEMS_PER_CALL)
        print(f"  {days - 1} daily syncs of a {size}-track chart: {writes} write calls")

        emulator.set_faults(f"rate={fault_rate},seed=3,kinds=500+502+503+truncated+malformed+429")
        lost_or_doubled = 0
        for chart in charts[1:]:
            for _ in range(TASK_TRIES):  # a failed sync is retried as Airflow would
                try:
                    sync_playlist(client, playlist_id, chart, is_uncertain=write_outcome_unknown)
                    break
                except Exception as error:  # noqa: BLE001 - count, then retry like Airflow
                    print(f"  sync failed once under faults: {type(error).__name__}")
        emulator.set_faults(None)
        live = list(read_playlist(client, playlist_id).uris)
        lost_or_doubled = len(set(charts[-1]) ^ set(live)) + (len(live) - len(set(live)))
        faults = sum(emulator.stats()["faults"].values())
        print(f"  the same days under {fault_rate:.0%} faults ({faults} faults injected)")
    return [
        f"bench spotify_calls: playlist_write_calls ours={writes} baseline(replace every day)="
        f"{replace_all} ratio={writes / replace_all:.2f} target <= 1.0: "
        + ("ok" if writes <= replace_all else "SHORT"),
        f"bench spotify_calls: unchanged_day_writes ours={unchanged_day_writes} baseline(none)=0 "
        "ratio=- target == 0: " + ("ok" if unchanged_day_writes == 0 else "SHORT"),
        f"bench spotify_calls: playlist_fault_diff ours={lost_or_doubled} baseline(target, {size} "
        f"tracks)=0 ratio={lost_or_doubled / size:.3f} target == 0: "
        + ("ok" if lost_or_doubled == 0 else "SHORT"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI)")
    args = parser.parse_args()
    n_artists = 300 if args.quick else 1000
    print("1. calls to fetch artist profiles")
    lines = bench_call_counts(n_artists)
    print("2. throughput under the rate limit")
    lines += bench_throughput(n_calls=60 if args.quick else 150, max_calls=20, window_s=3)
    print("3. 20% injected faults")
    lines += bench_faults(n_artists=100 if args.quick else 400, fault_rate=0.2)
    print("4. playlist writes")
    lines += bench_playlists(size=300, days=5 if args.quick else 15, fault_rate=0.2)
    print()
    print("\n".join(lines))
    return 0 if all(line.endswith(": ok") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
