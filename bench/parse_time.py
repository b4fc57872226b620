"""DAG parse time per file, against a trivial Task SDK DAG parsed the same way in the same run.

Each measurement is a fresh interpreter that imports Airflow and the DagBag first (every DAG
processor child has them), freezes the garbage collector as Airflow's parser does, then times
``DagBag(dag_folder=<file>)``: the file's own imports and DAG construction. Our packages are
byte-compiled first, as they are in a running deployment. Runs alternate baseline and file so
machine drift hits both; the median of the repeats is reported.

    python bench/parse_time.py [--quick] [--repeats N]

Targets (issue 2): every file <= 1.5x the baseline and <= 50 ms above it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from verdicts import exit_code, ratio_verdict, verdict

PROJECT_DIR = Path(__file__).resolve().parents[1]
BASELINE = PROJECT_DIR / "bench" / "fixtures" / "baseline_dag.py"
BASELINE_NAME = "trivial airflow.sdk DAG"
MAX_RATIO = 1.5
MAX_EXTRA_MS = 50.0

_PROBE = """
import gc, sys, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
import logging
logging.disable(logging.INFO)
gc.collect()
gc.freeze()
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
assert not bag.import_errors, bag.import_errors
print(elapsed * 1000)
"""


def parse_ms(path: Path) -> float:
    result = subprocess.run(  # noqa: S603 - our interpreter, our probe
        [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"parsing {path} failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def dag_files() -> list[Path]:
    return sorted(p for p in (PROJECT_DIR / "dags").rglob("*.py") if not p.name.startswith("_"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI)")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 9)

    # A deployment imports our packages from compiled bytecode (the DAG processor writes it on the
    # first parse); compile it up front so no measurement pays for compiling source. (These
    # machines set PYTHONDONTWRITEBYTECODE, which would otherwise recompile every module per run.)
    import compileall

    for folder in ("include", "plugins"):
        compileall.compile_dir(str(PROJECT_DIR / folder), quiet=1)

    files = dag_files()
    baseline_runs: list[float] = []
    runs: dict[Path, list[float]] = {path: [] for path in files}
    for _ in range(repeats):
        for path in files:
            baseline_runs.append(parse_ms(BASELINE))
            runs[path].append(parse_ms(path))
    baseline = statistics.median(baseline_runs)

    print(
        f"DAG parse time, median of {repeats} fresh processes per file (baseline: {BASELINE_NAME})"
    )
    print(f"{'file':<44} {'ms':>8} {'vs baseline':>12} {'ratio':>7}")
    print(f"{'bench/fixtures/baseline_dag.py':<44} {baseline:>8.1f} {'':>12} {'1.00x':>7}")
    verdicts = []
    for path in files:
        ours = statistics.median(runs[path])
        ratio, extra = ours / baseline, ours - baseline
        name = str(path.relative_to(PROJECT_DIR))
        print(f"{name:<44} {ours:>8.1f} {extra:>+11.1f}ms {ratio:>6.2f}x")
        verdicts.append(
            ratio_verdict(
                "parse_time",
                f"{path.stem} parse_ms",
                ours,
                BASELINE_NAME,
                baseline,
                op="<=",
                target=MAX_RATIO,
                fmt="{:.1f}",
            )
        )
        verdicts.append(
            verdict(
                "parse_time",
                f"{path.stem} ms_above_baseline",
                ours=f"{extra:+.1f}",
                baseline=BASELINE_NAME,
                base=f"{baseline:.1f}",
                ratio=f"{ratio:.2f}",
                target=f"<= {MAX_EXTRA_MS:.0f}",
                ok=extra <= MAX_EXTRA_MS,
            )
        )
    print()
    print("\n".join(verdicts))
    return exit_code(verdicts)


if __name__ == "__main__":
    sys.exit(main())
