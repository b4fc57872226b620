"""The report from the warehouse (SQLite and PostgreSQL): figures known by arithmetic from the
seeded aggregates, each against the day before, a week before and the 7-day average, coloured by
what is good for the business; the first screen's sentences, movers with enough history, empty
charts that say why, the extracts, and the same bytes twice."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from spotify_agent.analytics.report import kpis, render_report, split_movers, tone
from spotify_agent.analytics.report_facts import ReportPeriod, report_facts
from spotify_agent.analytics.trend_store import aggregated_days, daily_plays
from spotify_agent.analytics.trends import TrendRules
from spotify_agent.warehouse.schema import agg_tracks, listening_trends
from tests.include.analytics.report_seed import (
    FIRST_DAY,
    LAST_DAY,
    MISSING_DAY,
    W47,
    midnight,
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
        "comparisons.csv", "daily.csv", "artists.csv", "tracks.csv", "countries.csv",
        "movers.csv", "data_quality.csv",
    ]  # fmt: skip
    assert "<?xml" not in html


def test_the_same_facts_give_the_same_bytes(seeded, weekly) -> None:
    with seeded.connect() as connection:
        again = report_facts(connection, ReportPeriod.weekly(LAST_DAY))
    assert render_report(again).html == render_report(weekly).html
    assert render_report(again).extracts == render_report(weekly).extracts
    assert render_report(again).summary == render_report(weekly).summary


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
    # Its last column: the days among the 28 before with Blue Hour's aggregates.
    assert extracts["movers.csv"].splitlines()[1] == (
        "2026-11-16,artist,0ReportArtistBlueHour1,Blue Hour,rising,200,100.0,2.0,7.0711,1100,"
        "0.5714,7.4,7.4,False,28"
    )
    daily = extracts["daily.csv"].splitlines()
    assert len(daily) == 1 + 56
    # W47's Monday against the Monday before (500 plays) and the mean of the 7 days before.
    assert daily[0].endswith(",plays_vs_week_before,plays_vs_7_day_average")
    assert "2026-11-16,True,600,40,20.0,0.1,0.2,0.2" in daily
    assert "2026-11-18,False,0,0,0.0,,," in daily  # never aggregated: no figures
    assert extracts["comparisons.csv"].splitlines() == [
        "metric,value,against,baseline_first_day,baseline_last_day,baseline_days_aggregated,"
        "baseline_value,change,change_unit,tone",
        "plays,3600,previous week,2026-11-09,2026-11-15,7,3500,0.028571,fraction,good",
        "listeners,70,previous week,2026-11-09,2026-11-15,7,70,0.0,fraction,neutral",
        "hours_played,120.0,previous week,2026-11-09,2026-11-15,7,116.666667,0.028571,fraction,"
        "good",
        "skip_rate,0.1,previous week,2026-11-09,2026-11-15,7,0.1,0.0,percentage_points,neutral",
        "set_aside,4,previous week,2026-11-09,2026-11-15,7,0,4.0,plays,bad",
    ]


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


def test_a_day_is_compared_with_the_day_before_a_week_before_and_its_7_day_average(
    seeded,
) -> None:
    """Sunday 22 Nov: 600 plays; Saturday 600; the Sunday before 500 (Blue Hour doubled on
    the Monday); the 7 days before, without the Wednesday never aggregated, (500 + 5 x 600) / 6;
    the Monday's 4 plays set aside over those 6 days."""
    with seeded.connect() as connection:
        facts = report_facts(connection, ReportPeriod.daily(LAST_DAY))
    report = render_report(facts)

    assert [(b.name, b.detail, b.aggregated_days) for b in facts.baselines] == [
        ("previous day", "Sat 21 Nov", 1),
        ("same day last week", "Sun 15 Nov", 1),
        ("7-day average", "15 Nov-21 Nov (6 of 7 days aggregated)", 6),
    ]
    plays, listeners, _, skips, set_aside = kpis(facts)
    assert [(c.text, c.direction, c.tone) for c in plays.changes] == [
        ("+0.0%", "flat", "neutral"),
        ("+20.0%", "up", "good"),
        ("+2.9%", "up", "good"),
    ]
    assert plays.changes[2].baseline == pytest.approx(3500 / 6)
    assert [c.text for c in listeners.changes] == ["+0.0%"] * 3
    assert [c.text for c in skips.changes] == ["+0.0 pts"] * 3
    # Fewer plays set aside than the week's mean: down, and good.
    assert [(c.text, c.tone) for c in set_aside.changes][2] == ("-0.7", "good")
    assert report.headline[0] == (
        "600 plays by 40 listeners, up 0.0% on the previous day and up 20.0% on the previous "
        "Sunday."
    )
    first_screen = report.html[: report.html.index("<svg")]
    assert '<div class="change up tone-good">+20.0% vs same day last week</div>' in first_screen
    assert '<div class="change up tone-good">+2.9% vs 7-day average</div>' in first_screen
    assert report.extracts["comparisons.csv"].splitlines()[1:4] == [
        "plays,600,previous day,2026-11-21,2026-11-21,1,600.0,0.0,fraction,neutral",
        "plays,600,same day last week,2026-11-15,2026-11-15,1,500.0,0.2,fraction,good",
        "plays,600,7-day average,2026-11-15,2026-11-21,6,583.333333,0.028571,fraction,good",
    ]


def test_a_change_is_coloured_by_whether_it_is_good_not_by_its_sign(weekly) -> None:
    assert [tone("plays", 0.1), tone("listeners", -0.1), tone("hours_played", 2.0)] == [
        "good",
        "bad",
        "good",
    ]
    assert [tone("skip_rate", 1.5), tone("skip_rate", -1.5)] == ["bad", "good"]
    assert [tone("set_aside", 4), tone("set_aside", -4), tone("plays", 0)] == [
        "bad",
        "good",
        "neutral",
    ]
    with pytest.raises(ValueError, match="metric: 'ms_played' is not one of"):
        tone("ms_played", 1.0)

    # The week's skip rate doubled (10% to 20%) and 4 plays were set aside (0 the week
    # before): both go up, both are red.
    totals = dataclasses.replace(weekly.totals, skips=2 * weekly.totals.skips)
    first_screen = render_report(dataclasses.replace(weekly, totals=totals)).html
    first_screen = first_screen[: first_screen.index("<svg")]
    assert '<div class="change up tone-bad">+10.0 pts vs previous week</div>' in first_screen
    assert '<div class="change up tone-bad">+4 vs previous week</div>' in first_screen
    assert '<div class="change up tone-good">+2.9% vs previous week</div>' in first_screen


def _trend(day: date, entity_id: str, kind: str, score: float) -> dict:
    return {
        "day": day, "entity_type": "track", "entity_id": entity_id, "kind": kind,
        "plays": 300, "listeners": 40, "baseline_median": 0.0, "baseline_mad": 0.0,
        "baseline_days": 28, "baseline_level": 10.0, "robust_z": score, "ratio": 30.0,
        "last_7d_plays": 400, "prev_7d_plays": 20, "wow_growth": 19.0, "wow_z": 1.0,
        "score": score, "significant": True, "run_id": "seed", "trace_id": "0" * 32,
        "detected_at": datetime(2026, 11, 23, tzinfo=UTC),
    }  # fmt: skip


def test_a_mover_needs_three_days_of_history(seeded) -> None:
    """Rising tracks played on 2 and on 3 of the 28 days before (a day further back does not
    count), and a new one: the first is no trend, the second is, the third is listed as new."""
    sparse, steady, newcomer = (
        "0ReportTrackSparse0001",
        "0ReportTrackSteady0001",
        "0ReportTrackNew000001",
    )
    history = {sparse: [date(2026, 10, 23), date(2026, 11, 10), date(2026, 11, 12)],
               steady: [date(2026, 11, 1), date(2026, 11, 5), date(2026, 11, 9), LAST_DAY]}  # fmt: skip
    saturday = LAST_DAY - timedelta(days=1)
    with seeded.begin() as connection:
        connection.execute(
            agg_tracks.insert(),
            [{"kind": "day", "period_start": midnight(day), "track_id": track, "plays": 5,
              "listeners": 5} for track, days in history.items() for day in days],
        )  # fmt: skip
        connection.execute(
            listening_trends.insert(),
            [_trend(LAST_DAY, sparse, "rising", 9.0), _trend(LAST_DAY, steady, "rising", 6.0),
             _trend(LAST_DAY, newcomer, "new", 5.0), _trend(saturday, sparse, "rising", 9.0)],
        )  # fmt: skip
    with seeded.connect() as connection:
        sunday = report_facts(connection, ReportPeriod.daily(LAST_DAY))
        only_sparse = report_facts(connection, ReportPeriod.daily(saturday))

    report = render_report(sunday)
    assert [sunday.history_of(m) for m in sunday.movers] == [2, 3, 0]
    movers = split_movers(sunday)
    assert ([m.entity_id for m in movers.shown], [m.entity_id for m in movers.new],
            movers.left_out) == ([steady], [newcomer], 1)  # fmt: skip
    assert sparse not in report.html  # neither in the chart nor in the tables
    assert f"{steady} (rising, track)" in report.html  # the chart's label
    assert (
        "at least 3 days of history" in report.html
        and "1 trend with fewer was left out" in report.html
    )
    assert "new here: no play in the 28 days before" in report.html
    assert report.headline[1].startswith(f"Biggest mover: {steady} rose to 300 plays")
    assert [line.split(",")[2] + ":" + line.rsplit(",", 1)[1]
            for line in report.extracts["movers.csv"].splitlines()[1:]] == [
        f"{sparse}:2", f"{steady}:3", f"{newcomer}:0"]  # fmt: skip

    alone = render_report(only_sparse)
    assert "Fewer than 3 days of history: 1 trend on 2026-11-21 not shown" in alone.html
    assert alone.headline[1] == (
        "No artist or track with 3 days of history or more moved beyond its usual range."
    )


def test_every_chart_with_nothing_to_draw_says_why(seeded) -> None:
    with seeded.connect() as connection:
        empty = report_facts(connection, ReportPeriod.daily(FIRST_DAY - timedelta(days=30)))
    html = render_report(empty).html
    svgs = [part[: part.index("</svg>")] for part in html.split("<svg")[1:]]
    window = "from 2026-08-16 to 2026-09-12"
    reasons = [
        f"No day aggregated {window}",
        "No artist or track moved beyond its usual range on 2026-09-12",
        "No plays on 2026-09-12",  # countries
        "No plays on 2026-09-12",  # artists
        "No plays on 2026-09-12",  # hours
        f"No timed plays {window}",
        f"No plays set aside {window}",
    ]
    assert len(svgs) == len(reasons)
    for svg, reason in zip(svgs, reasons, strict=True):
        assert reason in svg
    # The tables under them say it too.
    assert html.count('class="empty">No plays on 2026-09-12</td>') == 3


def test_a_quiet_day_s_data_quality_chart_says_nothing_was_set_aside(seeded) -> None:
    """The daily chart covers 28 days: from 16 Nov's plays set aside, a day in December's
    window sees none."""
    day = LAST_DAY + timedelta(days=25)
    with seeded.connect() as connection:
        facts = report_facts(connection, ReportPeriod.daily(day))
    assert "No plays set aside from 2026-11-20 to 2026-12-17" in render_report(facts).html
