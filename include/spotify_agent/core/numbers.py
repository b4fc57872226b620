"""Numbers as people read them, shared by every text the jobs write (reports, descriptions,
digests): the same value is always written the same way, so a text can be checked against the
facts it states."""

from __future__ import annotations

FactValue = int | float | str


def format_number(value: FactValue) -> str:
    """Integers with thousands separators, other numbers with one decimal, text as is."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"
