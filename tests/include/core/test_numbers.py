"""Counts and sizes in a job's summary line read as words, with thousands separators."""

from __future__ import annotations

from spotify_agent.core.numbers import counted, counts_text, size_text


def test_counts_read_as_words_and_zero_ones_after_the_first_are_left_out() -> None:
    counts = {"rows_written": 40_000, "duplicates": 0, "quarantined": 3, "spotify_p95_ms": 120}

    assert counts_text(counts) == "40,000 rows written, 3 quarantined, spotify p95 120 ms"
    assert counts_text({"rows_written": 0, "duplicates": 0}) == "0 rows written"
    assert counted([(12, "playlists synced"), (40, "tracks added"), (0, "moved")]) == (
        "12 playlists synced, 40 tracks added"
    )


def test_sizes_read_at_a_glance() -> None:
    assert [size_text(n) for n in (512, 48 * 1024, 1_258_291, 3 * 1024**3)] == [
        "512 bytes",
        "48.0 KiB",
        "1.2 MiB",
        "3.0 GiB",
    ]
