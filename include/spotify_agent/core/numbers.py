"""Numbers as people read them, shared by every text the jobs write (reports, descriptions,
digests): the same value is always written the same way, so a text can be checked against the
facts it states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FactValue = int | float | str


def format_number(value: FactValue) -> str:
    """Integers with thousands separators, other numbers with one decimal, text as is."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"


def counted(parts: Iterable[tuple[FactValue, str]], *, always: int = 1) -> str:
    """``40 tracks added, 3 removed``: each number as :func:`format_number` writes it, then its
    words; past the first ``always`` parts, the zero ones are left out."""
    return ", ".join(
        f"{format_number(value)} {words}"
        for index, (value, words) in enumerate(parts)
        if index < always or value
    )


def size_text(size_bytes: int) -> str:
    """``512 bytes``, ``48.0 KiB``, ``1.2 MiB``, ``3.4 GiB``: a size at a glance."""
    value, unit = float(size_bytes), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{size_bytes:,} bytes" if unit == "bytes" else f"{format_number(value)} {unit}"


def counts_text(counts: Mapping[str, FactValue], *, always: int = 1) -> str:
    """A job's counts as words: ``{"rows_written": 40, "duplicates": 3, "spotify_p95_ms":
    120}`` reads ``40 rows written, 3 duplicates, spotify p95 120 ms``; past the first
    ``always`` counts, the zero ones are left out."""
    said = []
    for index, (key, value) in enumerate(counts.items()):
        if index >= always and not value:
            continue
        if key.endswith("_p95_ms"):
            name = key.removesuffix("_p95_ms").replace("_", " ")
            said.append(f"{name} p95 {format_number(value)} ms")
        else:
            said.append(f"{format_number(value)} {key.replace('_', ' ')}")
    return ", ".join(said)
