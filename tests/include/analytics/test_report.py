"""The report from the warehouse (SQLite and PostgreSQL): figures known by arithmetic from the
seeded aggregates, the first screen's sentences, the extracts, and the same bytes twice."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from spotify_agent.analytics.report import render_report
from spotify_agent.analytics.report_facts import ReportPeriod, report_facts
from spotify_agent.analytics.trend_store import aggregated_days, daily_plays
from spotify_agent.analytics.trends import TrendRules
from tests.include.analytics.report_seed import (
    FIRST_DAY,
    LAST_DAY,
    MISSING_DAY,
    W47,
    seed_report_history,
)


@pytest.fixture
def seeded(warehouse):
    with warehouse.begin() as connection:
        seed_report_history(connection)
    return warehouse


@pytest.fixture
def weekly(seeded):
    with seeded.connect() as connection:
        return report_facts(connection, ReportPeriod.weekly(LAST_DAY))


def test_periods_are_keyed_by_their_interval() -> None:
    week = ReportPeriod.weekly(date(2026, 11, 19))
    assert (week.start, week.end, week.label) == (W47, W47 + timedelta(days=7), "2026-W47")
    assert week.key_prefix == "reports/weekly/2026-W47"
    assert week.previous() == ReportPeriod.weekly(W47 - timedelta(days=1))
    day = ReportPeriod.daily(LAST_DAY)
    assert (day.label, day.key_prefix) == ("2026-11-22", "reports/daily/2026-11-22")
    assert len(day.chart_window().days) == 28 and len(week.chart_window().days) == 56


def test_the_week_s_figures(weekly) -> None:
    # Six aggregated days (one never was) of 400 Aurora + 200 Blue Hour plays.
    assert weekly.totals.plays == 6 * 600
    assert weekly.previous.plays == 7 * 500
    # 30 regulars every day and 10 of 40 rotating guests: all 40 came during the week.
    assert weekly.totals.listeners == 70
    assert weekly.totals.skip_rate == pytest.approx(0.1)
    assert weekly.totals.hours_played == pytest.approx(3600 * 120_000 / 3_600_000)
    assert [(c.name, c.plays) for c in weekly.countries] == [
        ("SE", 2400),
        ("BR", 600),
        ("unknown", 600),
    ]
    assert [(a.name, a.plays, round(a.share, 4)) for a in weekly.artists] == [
        ("Aurora", 2400, 0.6667),
        ("Blue Hour", 1200, 0.3333),
    ]
    assert weekly.tracks[0].name == "Dawn by Aurora"
    assert weekly.hours[20] == 6 * 500 and weekly.hours[8] == 6 * 100
    assert weekly.missing_days == [MISSING_DAY]
    assert weekly.rejected == {"negative_duration": 1, "unknown_track": 3}
    assert weekly.quarantined == 4
    assert [m.name for m in weekly.movers] == ["Blue Hour"]
    # The chart window: eight weeks back, days before the seeded history are "not aggregated".
    assert weekly.days[0].day == LAST_DAY - timedelta(days=55)
    assert not weekly.days[0].aggregated and weekly.days[-1].aggregated
    assert sum(1 for d in weekly.days if d.aggregated) == 41  # 42 seeded days, one missing


def test_the_first_screen_says_how_the_week_went(weekly) -> None:
    report = render_report(weekly)
    assert report.headline == [
        "3,600 plays by 70 listeners, up 2.9% on the previous week.",
        "Biggest mover: Blue Hour grew 57.1% in a week, to 1,100 plays in the 7 days to "
        "2026-11-16.",
        "Data quality: 4 plays set aside (0.11%: 1 negative duration, 3 unknown track); "
        "not aggregated: 2026-11-18.",
    ]
    assert report.quality_flagged  # a missing day
    html = report.html
    first_screen = html[: html.index("<svg")]
    for figure in ("3,600", "+2.9% vs previous week", "70", "10.0%"):
        assert figure in first_screen
    assert 'class="flagged"' in first_screen


def test_the_report_is_one_self_contained_file(weekly) -> None:
    html = render_report(weekly).html
    assert html.count("<svg") == 7  # plays, movers, countries, artists, hours, skips, quality
    assert "<script" not in html
    # Nothing to fetch: past the charts' references to their own parts, the only links are the
    # extracts next to the file.
    links = [url for url in re.findall(r'(?:src|href)="([^"]+)"', html) if not url.startswith("#")]
    assert links == [
        "daily.csv", "artists.csv", "tracks.csv", "countries.csv", "movers.csv",
        "data_quality.csv",
    ]  # fmt: skip
    assert "<?xml" not in html


def test_the_same_facts_give_the_same_bytes(seeded, weekly) -> None:
    with seeded.connect() as connection:
        again = report_facts(connection, ReportPeriod.weekly(LAST_DAY))
    assert render_report(again).html == render_report(weekly).html
    assert render_report(again).extracts == render_report(weekly).extracts


def test_the_extracts_hold_the_numbers(weekly) -> None:
    extracts = render_report(weekly).extracts
    assert extracts["data_quality.csv"].splitlines() == [
        "day,aggregated,plays_counted,negative_duration,unknown_track,quarantined",
        "2026-11-16,True,600,1,3,4",
        "2026-11-17,True,600,0,0,0",
        "2026-11-18,False,0,0,0,0",
        *[f"2026-11-{d},True,600,0,0,0" for d in range(19, 23)],
    ]
    assert extracts["countries.csv"].splitlines()[1] == "SE,2400,0.666667,0.1"
    assert extracts["movers.csv"].splitlines()[1] == (
        "2026-11-16,artist,0ReportArtistBlueHour1,Blue Hour,rising,200,100.0,2.0,7.0711,1100,"
        "0.5714,7.4,7.4,False"
    )
    assert len(extracts["daily.csv"].splitlines()) == 1 + 56


def test_a_quiet_day_and_an_empty_period_still_make_a_report(seeded) -> None:
    with seeded.connect() as connection:
        quiet = report_facts(connection, ReportPeriod.daily(LAST_DAY))
        empty = report_facts(connection, ReportPeriod.daily(FIRST_DAY - timedelta(days=30)))
    quiet_report = render_report(quiet)
    assert quiet_report.headline[1] == "No artist or track moved beyond its usual range."
    assert quiet_report.headline[2] == "Data quality: every play counted, no day missing."
    assert not quiet_report.quality_flagged
    empty_report = render_report(empty)
    assert empty_report.headline[0] == (
        "0 plays by 0 listeners; nothing to compare with the previous day."
    )
    assert empty_report.quality_flagged  # the day itself was never aggregated


def test_trend_inputs_read_from_either_warehouse(seeded) -> None:
    """trend_detection's reads, on both backends: artists summed over countries, only artists
    and tracks with enough plays on some day, and the days the aggregation wrote."""
    rules = TrendRules(min_plays=250)
    with seeded.connect() as connection:
        days = aggregated_days(connection, W47 - timedelta(days=28), W47)
        artists = list(daily_plays(connection, "artist", W47, rules))
        tracks = list(daily_plays(connection, "track", W47, rules))
    assert len(days) == 29 and MISSING_DAY not in days
    aurora = {row.day: row.plays for row in artists if row.entity_id == "0ReportArtistAurora001"}
    assert aurora[W47] == 400 and len(aurora) == 29
    # Blue Hour (100, then 200 a day) never reaches 250.
    assert {row.entity_id for row in artists} == {"0ReportArtistAurora001"}
    # Dawn (400 a day) reaches 250, Night (100 then 200) never does.
    assert {row.entity_id for row in tracks} == {"0ReportTrackDawn000001"}


def test_names_are_text_in_charts_not_formulas() -> None:
    """Artist names with dollar signs ("A$AP Rocky", "$uicideboy$") would be TeX to matplotlib;
    some ("Money $$ Talk") would fail the whole report."""
    from spotify_agent.analytics import charts
    from spotify_agent.analytics.report_facts import Ranked

    names = ["A$AP Rocky", "$uicideboy$", "Money $$ Talk"]
    svg = charts.shares([Ranked(n, n, 10, 0.1) for n in names], "Top artists")
    for name in names:
        assert name in svg
