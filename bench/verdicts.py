"""The line each benchmark ends with per target, in the one format docs/BENCHMARKS.md gives:

    bench <name>: <metric> ours=<value> baseline(<what>)=<value> ratio=<x> target <op> <t>: ok|SHORT

A script prints its verdicts last and exits with :func:`exit_code`. Each way a script compares
runs in a fresh process (:func:`measure_in_fresh_process`), so one way's memory peak and warm
caches never count for another.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable


def verdict(
    bench: str,
    metric: str,
    *,
    ours: str,
    baseline: str,
    base: str,
    ratio: str,
    target: str,
    ok: bool,
) -> str:
    """One target's line, from values the script has formatted."""
    return (
        f"bench {bench}: {metric} ours={ours} baseline({baseline})={base} ratio={ratio} "
        f"target {target}: " + ("ok" if ok else "SHORT")
    )


def ratio_verdict(
    bench: str,
    metric: str,
    ours: float,
    baseline: str,
    base: float,
    *,
    op: str,
    target: float,
    fmt: str = "{:.0f}",
) -> str:
    """A target on ``ours / base``: at least (``op=">="``) or at most (``"<="``) ``target``.
    ``fmt`` formats ``ours`` and ``base``."""
    ratio = ours / base
    ok = ratio >= target if op == ">=" else ratio <= target
    return verdict(
        bench,
        metric,
        ours=fmt.format(ours),
        baseline=baseline,
        base=fmt.format(base),
        ratio=f"{ratio:.2f}",
        target=f"{op} {target}",
        ok=ok,
    )


def exit_code(verdicts: Iterable[str]) -> int:
    """0 when every target is met, else 1."""
    return 0 if all(line.endswith(": ok") for line in verdicts) else 1


def measure_in_fresh_process(script: str, *args: object) -> dict[str, float]:
    """Run ``script --run-one *args`` in a new interpreter; its last stdout line is the JSON
    object of its figures."""
    answer = subprocess.run(
        [sys.executable, script, "--run-one", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{answer.stderr[-3000:]}")
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))
