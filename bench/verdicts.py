"""The line each benchmark ends with per target, in the one format docs/BENCHMARKS.md gives:

    bench <name>: <metric> ours=<value> baseline(<what>)=<value> ratio=<x> target <op> <t>: ok|SHORT

A script prints its verdicts last and exits with :func:`exit_code`.
"""

from __future__ import annotations

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
