"""The daily listening aggregation: our pipeline against pandas, DuckDB and plain polars.

One deterministic synthetic day (``spotify_agent.analytics.synthetic``: Zipf-skewed listeners
and tracks, 60 countries) in Parquet; each engine reads the same three files in a fresh process
and computes the same tables (exact unique listeners, sessions, skips, hours). Ours is
``aggregate_day``, which also checks every play (interval, future, unknown track, durations,
duplicates) before counting. Every result is checked equal to ours, value for value.

Targets: ours >= 0.9x the fastest engine's events/s in the same run, >= 2x pandas', and a peak
memory (the process's peak resident set, ``VmHWM``) <= 1 GiB at 10M events.

    python bench/aggregation.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from verdicts import exit_code, measure_in_fresh_process, ratio_verdict

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_DIR / "include"), str(PROJECT_DIR / "plugins")]

DAY = datetime(2026, 11, 25, tzinfo=UTC)
FULL = {"events": 10_000_000, "users": 1_000_000, "tracks": 200_000, "artists": 20_000}
QUICK = {"events": 1_000_000, "users": 100_000, "tracks": 20_000, "artists": 2_000}
MIN_VS_FASTEST, MIN_VS_PANDAS, MAX_PEAK_MIB = 0.9, 2.0, 1024


def run_one(engine: str, folder: Path, out: Path) -> None:
    """In a fresh process: aggregate with ``engine``, write the tables, print the seconds."""
    import pyarrow.parquet as pq

    from spotify_agent.analytics.aggregation import ListeningData
    from spotify_agent.analytics.synthetic import day_bounds

    data = ListeningData.in_folder(folder)
    if engine == "ours":
        from spotify_agent.analytics.aggregation import aggregate_day

        start, end = day_bounds(DAY)
        began = time.perf_counter()
        result = aggregate_day(
            data.events, data.tracks, data.listeners, day_start=start, day_end=end, now=end
        )
        seconds = time.perf_counter() - began
        tables = dict(result.tables)
    else:
        from spotify_agent.analytics.engines import ENGINES

        began = time.perf_counter()
        tables = ENGINES[engine](data.events, data.tracks, data.listeners)
        seconds = time.perf_counter() - began
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, out / f"{name}.parquet")
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib()}))


def peak_mib() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` would not do: it carries the
    parent's peak over fork and exec, so every engine here would report at least the size this
    benchmark's own process reached while writing the data. ``VmHWM`` is the peak of the
    process's own memory."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    # Elsewhere the inherited-peak caveat may apply; macOS counts bytes, Linux KiB.
    unit = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit


def same_tables(a: Path, b: Path) -> bool:
    import pyarrow.parquet as pq

    names = sorted(path.name for path in a.glob("*.parquet"))
    return names == sorted(path.name for path in b.glob("*.parquet")) and all(
        pq.read_table(a / name).equals(pq.read_table(b / name)) for name in names
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M events instead of 10M (CI)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--run-one", nargs=3, metavar=("ENGINE", "DATA", "OUT"))
    args = parser.parse_args()
    if args.run_one:
        engine, folder, out = args.run_one
        run_one(engine, Path(folder), Path(out))
        return 0

    from spotify_agent.analytics.synthetic import write_listening_day

    size = QUICK if args.quick else FULL
    repeats = args.repeats or 3
    engines = ["ours", "pandas", "duckdb", "polars"]
    with tempfile.TemporaryDirectory(prefix="bench-aggregation-") as tmp:
        root = Path(tmp)
        write_listening_day(root / "data", day=DAY, seed=11, **size)
        runs: dict[str, list[dict[str, float]]] = {engine: [] for engine in engines}
        for _ in range(repeats):  # interleaved, so machine noise hits every engine alike
            for engine in engines:
                runs[engine].append(
                    measure_in_fresh_process(__file__, engine, root / "data", root / engine)
                )
        equal = {engine: same_tables(root / "ours", root / engine) for engine in engines[1:]}

    events = size["events"]
    rate = {e: events / statistics.median(r["seconds"] for r in runs[e]) for e in engines}
    peak = {e: max(r["peak_mib"] for r in runs[e]) for e in engines}
    print(
        f"Daily aggregation of {events:,} events ({size['users']:,} listeners, "
        f"{size['tracks']:,} tracks, {size['artists']:,} artists), median of {repeats} runs, "
        "each engine in a fresh process"
    )
    print(f"{'engine':<8} {'events/s':>12} {'vs ours':>8} {'peak MiB':>9} {'same result':>12}")
    for engine in engines:
        same = "-" if engine == "ours" else ("yes" if equal[engine] else "NO")
        print(
            f"{engine:<8} {rate[engine]:>12,.0f} {rate[engine] / rate['ours']:>7.2f}x "
            f"{peak[engine]:>9.0f} {same:>12}"
        )
    fastest = max(engines[1:], key=lambda engine: rate[engine])
    verdicts = [
        _events_per_s(rate["ours"], fastest, rate[fastest], MIN_VS_FASTEST),
        _events_per_s(rate["ours"], "pandas", rate["pandas"], MIN_VS_PANDAS),
        # Every engine's tables equal ours: the ratio is 1.0 exactly when all are.
        ratio_verdict(
            "aggregation",
            "results_equal",
            sum(equal.values()),
            "engines",
            len(equal),
            op=">=",
            target=1.0,
        ),
    ]
    if not args.quick:  # the memory target is for 10M events
        verdicts.append(
            ratio_verdict(
                "aggregation", "peak_mib", peak["ours"], "budget", MAX_PEAK_MIB, op="<=", target=1.0
            )
        )
    print()
    print("\n".join(verdicts))
    return exit_code(verdicts)


def _events_per_s(ours: float, name: str, base: float, target: float) -> str:
    return ratio_verdict(
        "aggregation", "events_per_s", ours, name, base, op=">=", target=target, fmt="{:,.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
