"""The daily and weekly report: one self-contained HTML file (charts inline as SVG), CSV
extracts and a small ``summary.json`` (what the ``/reports/`` index shows), from
:class:`ReportFacts`.

The first screen answers "how did the period go": five figures, each against the previous day,
the same weekday a week before and the 7-day average (a week: against the previous week),
coloured by whether the change is good for the business; the three sentences that matter
(volume, the biggest mover, data quality); then the charts and the tables with the numbers
behind them. The same facts always give the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

from spotify_agent.analytics import charts
from spotify_agent.analytics.report_facts import Baseline, Figures, ReportFacts, ReportPeriod
from spotify_agent.analytics.report_index import template_environment
from spotify_agent.analytics.trend_store import StoredTrend
from spotify_agent.core.numbers import format_number

# Movers per direction in the chart and the table's first rows.
MOVERS_SHOWN = 10
# Share of plays set aside above which the data-quality line is flagged.
QUALITY_ALERT = 0.01
# Days with aggregates of an artist or track, among the 28 before, that a trend needs to be
# shown as one (a rise from one earlier day is no trend). New entries have none by definition:
# they are listed apart, as new.
MIN_HISTORY_DAYS = 3

Tone = Literal["good", "bad", "neutral"]
# Whether a rise in each figure is good for the business: the report colours a change by this,
# never by its sign (more skips, or more plays set aside, is bad news).
GOOD_WHEN_UP: dict[str, bool] = {
    "plays": True,
    "listeners": True,
    "hours_played": True,
    "skip_rate": False,
    "set_aside": False,
}


def tone(metric: str, change: float) -> Tone:
    """``good``, ``bad`` or ``neutral`` (no change) for a change of ``metric``."""
    if metric not in GOOD_WHEN_UP:
        raise ValueError(f"metric: {metric!r} is not one of {sorted(GOOD_WHEN_UP)}")
    if change == 0:
        return "neutral"
    return "good" if (change > 0) == GOOD_WHEN_UP[metric] else "bad"


@dataclass(frozen=True)
class Change:
    """One figure against one baseline, as the report writes it."""

    against: str  # "previous day"
    text: str  # "+4.2%", "+1.3 pts", "+12" (plays), "n/a"
    direction: str  # up, down or flat: the arrow
    tone: Tone  # the colour
    value: float | None  # the change as written: a fraction, points or plays; None: n/a
    baseline: float | None  # the baseline's figure
    exact: float | None = None  # the change unrounded (to 6 decimals), for the CSV


@dataclass(frozen=True)
class Kpi:
    metric: str
    name: str
    value: str
    changes: list[Change]
    note: str = ""  # under the value: "0.11% of plays"


@dataclass(frozen=True)
class Report:
    html: str
    extracts: dict[str, str]  # file name -> CSV text
    headline: list[str]
    quality_flagged: bool
    summary: str = ""  # summary.json: the index's row for this report

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.html.encode()).hexdigest()


def render_report(facts: ReportFacts) -> Report:
    period = facts.period
    noun = "day" if period.kind == "daily" else "week"
    movers = split_movers(facts)
    reasons = sorted({r for d in facts.days for r in d.rejected})
    headline, flagged = headline_sentences(facts)
    figures = kpis(facts)
    environment = template_environment()
    environment.filters["n"] = format_number
    environment.filters["pct"] = _pct
    html = environment.get_template("report.html.j2").render(
        facts=facts,
        period=period,
        title=title(period),
        dates=dates(period),
        noun=noun,
        when=_when(period),
        kpis=figures,
        baselines=facts.baselines,
        headline=headline,
        quality_flagged=flagged,
        movers=movers,
        min_history=MIN_HISTORY_DAYS,
        charts=_charts(facts, movers, reasons),
        reasons=reasons,
        extracts=EXTRACTS,
        baseline_text=baseline_text,
    )
    summary = report_summary(facts, figures, headline, flagged)
    return Report(html, extracts(facts, figures), headline, flagged, summary)


@dataclass(frozen=True)
class Movers:
    """The period's trends as the report shows them."""

    rising: list[StoredTrend]
    falling: list[StoredTrend]
    new: list[StoredTrend]
    left_out: int  # rising or falling with fewer than MIN_HISTORY_DAYS days of history

    @property
    def shown(self) -> list[StoredTrend]:
        return [*self.rising, *self.falling]


def shown_as_mover(facts: ReportFacts, mover: StoredTrend) -> bool:
    """A new entry (no history by definition, shown as new), or a trend with enough history."""
    return mover.kind == "new" or facts.history_of(mover) >= MIN_HISTORY_DAYS


def split_movers(facts: ReportFacts) -> Movers:
    """Rising and falling trends with enough history (the strongest MOVERS_SHOWN each way), and
    the new entries; how many trends were left out for too little history."""
    enough = [m for m in facts.movers if shown_as_mover(facts, m)]
    return Movers(
        rising=[m for m in enough if m.kind == "rising"][:MOVERS_SHOWN],
        falling=[m for m in enough if m.kind == "falling"][:MOVERS_SHOWN],
        new=[m for m in enough if m.kind == "new"][:MOVERS_SHOWN],
        left_out=len(facts.movers) - len(enough),
    )


def _charts(facts: ReportFacts, movers: Movers, reasons: list[str]) -> dict[str, str]:
    """Every chart, or the chart's frame saying why it has nothing to draw."""
    period, window = facts.period, facts.days
    span = f"from {window[0].day.isoformat()} to {window[-1].day.isoformat()}"
    when = _when(period)
    nothing = f"No artist or track moved beyond its usual range {when}"
    if movers.left_out:
        trends = f"{movers.left_out} trend{'s' if movers.left_out > 1 else ''}"
        nothing = f"Fewer than {MIN_HISTORY_DAYS} days of history: {trends} {when} not shown"
    moved = charts.movers(movers.rising, movers.falling, nothing=nothing)
    return {
        "plays": charts.plays_over_time(window, period.start, nothing=f"No day aggregated {span}"),
        "skips": charts.skip_rate_over_time(window, nothing=f"No timed plays {span}"),
        "movers": moved,
        "countries": charts.shares(
            facts.countries[:10], "Plays by country", nothing=f"No plays {when}"
        ),  # fmt: skip
        "artists": charts.shares(
            facts.artists[:10], "Top artists", charts.GREEN, nothing=f"No plays {when}"
        ),  # fmt: skip
        "hours": charts.hours(facts.hours, nothing=f"No plays {when}"),
        "quality": charts.data_quality(window, reasons, nothing=f"No plays set aside {span}"),
    }


def title(period: ReportPeriod) -> str:
    noun = "day" if period.kind == "daily" else "week"
    return f"Listening report \u00b7 {noun} {period.label}"


def dates(period: ReportPeriod) -> str:
    """The period in words: "Sunday 22 November 2026", "16 Nov - 22 Nov 2026"."""
    if period.kind == "daily":
        return period.start.strftime("%A %d %B %Y")
    return f"{period.start:%d %b} \u2013 {period.days[-1]:%d %b %Y}"


def _when(period: ReportPeriod) -> str:
    return f"on {period.label}" if period.kind == "daily" else f"in {period.label}"


# The first screen's figures: the metric, its name, and how a change is measured (relative for
# counts, points for a rate, plays for the data-quality count, which is often zero).
METRICS = (
    ("plays", "Plays", "relative"),
    ("listeners", "Listeners", "relative"),
    ("hours_played", "Hours played", "relative"),
    ("skip_rate", "Skip rate", "points"),
    ("set_aside", "Plays set aside", "count"),
)


def kpis(facts: ReportFacts) -> list[Kpi]:
    """The period's figures, each with its change against every baseline."""
    now = facts.figures
    counted = now.plays + now.set_aside
    share = now.set_aside / counted if counted else 0.0
    values = {
        "plays": format_number(int(now.plays)),
        "listeners": format_number(int(now.listeners)),
        "hours_played": format_number(round(now.hours_played, 1)),
        "skip_rate": _pct(now.skip_rate),
        "set_aside": format_number(int(now.set_aside)),
    }
    notes = {"set_aside": f"{share:.2%} of plays"}
    return [
        Kpi(
            metric,
            name,
            values[metric],
            [change(metric, unit, now, b, comparable=facts.aggregated) for b in facts.baselines],
            notes.get(metric, ""),
        )
        for metric, name, unit in METRICS
    ]


def change(
    metric: str, unit: str, now: Figures, baseline: Baseline, *, comparable: bool = True
) -> Change:
    """``now``'s ``metric`` against ``baseline``'s: the text, the arrow and the colour."""
    new, old = getattr(now, metric), None
    if baseline.figures is not None:
        old = getattr(baseline.figures, metric)
    against = baseline.name
    if not comparable or new is None or old is None or (unit == "relative" and not old):
        return Change(against, "n/a", "flat", "neutral", None, old)
    if unit == "relative":
        exact = new / old - 1.0
        # Rounded as written, so "+0.0%" is flat and neutral (and never "-0.0%").
        delta = round(exact, 3) + 0.0
        text = f"{delta:+.1%}"
    elif unit == "points":
        exact = 100 * (new - old)
        delta = round(exact, 1) + 0.0
        text = f"{delta:+.1f} pts"
    else:
        exact = new - old
        delta = round(exact, 1) + 0.0
        shown = format_number(int(abs(delta)) if delta == int(delta) else abs(delta))
        text = ("-" if delta < 0 else "+") + shown
    direction = "up" if delta > 0 else "down" if delta < 0 else "flat"
    return Change(against, text, direction, tone(metric, delta), delta, old,
                  round(exact, 6) + 0.0)  # fmt: skip


def baseline_text(metric: str, value: float | None) -> str:
    """A baseline's figure as the comparison table writes it (an average keeps one decimal)."""
    if value is None:
        return "n/a"
    if metric == "skip_rate":
        return _pct(value)
    if metric == "hours_played" or value != int(value):
        return format_number(round(float(value), 1))
    return format_number(int(value))


def headline_sentences(facts: ReportFacts) -> tuple[list[str], bool]:
    """Volume, the biggest mover and data quality, in words; and whether quality is flagged."""
    now = facts.totals
    volume = f"{format_number(now.plays)} plays by {format_number(now.listeners)} listeners"
    compared = _volume_changes(facts)
    if compared:
        volume += ", " + " and ".join(compared) + "."
    else:
        volume += f"; nothing to compare with the previous {_noun(facts.period)}."
    sentences = [volume]
    movers = split_movers(facts)
    strongest = [m for m in facts.movers if shown_as_mover(facts, m)]
    if strongest:
        template, numbers = strongest[0].sentence()
        shown = {k: format_number(v) for k, v in numbers.items()}
        sentences.append("Biggest mover: " + template.format(**shown))
    elif movers.left_out:
        sentences.append(f"No artist or track with {MIN_HISTORY_DAYS} days of history or more "
                         "moved beyond its usual range.")  # fmt: skip
    else:
        sentences.append("No artist or track moved beyond its usual range.")
    set_aside = sum(facts.rejected.values())
    counted = now.plays + set_aside
    share = set_aside / counted if counted else 0.0
    missing = facts.missing_days
    if not set_aside and not missing:
        sentences.append("Data quality: every play counted, no day missing.")
    else:
        parts = []
        if set_aside:
            reasons = ", ".join(
                f"{format_number(n)} {r.replace('_', ' ')}" for r, n in facts.rejected.items()
            )
            parts.append(f"{format_number(set_aside)} plays set aside ({share:.2%}: {reasons})")
        if missing:
            days = ", ".join(d.isoformat() for d in missing)
            parts.append(f"not aggregated: {days}")
        sentences.append("Data quality: " + "; ".join(parts) + ".")
    return sentences, bool(missing) or share > QUALITY_ALERT


def _volume_changes(facts: ReportFacts) -> list[str]:
    """ "up 4.2% on the previous day", "down 1.0% on the previous Sunday": plays against the
    previous day and the same weekday a week before (a week: the previous week)."""
    said = []
    for baseline in facts.baselines:
        if baseline.name == "7-day average":
            continue  # in the figures; a sentence with three comparisons is read by nobody
        measured = change("plays", "relative", facts.figures, baseline, comparable=facts.aggregated)
        if measured.value is None:
            continue
        where = (
            f"the previous {facts.period.start:%A}"
            if baseline.name == "same day last week"
            else f"the {baseline.name}"
        )
        said.append(
            f"{'up' if measured.value >= 0 else 'down'} {abs(measured.value):.1%} on {where}"
        )
    return said


def _noun(period: ReportPeriod) -> str:
    return "day" if period.kind == "daily" else "week"


def report_summary(
    facts: ReportFacts, figures: list[Kpi], headline: list[str], flagged: bool
) -> str:
    """``summary.json``: what the ``/reports/`` index shows for this report (sorted keys, so
    the same facts give the same bytes)."""
    period = facts.period
    summary = {
        "kind": period.kind,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "title": title(period),
        "dates": dates(period),
        "figures": [
            {
                "metric": k.metric,
                "name": k.name,
                "value": k.value,
                "changes": [
                    {"against": c.against, "text": c.text, "direction": c.direction, "tone": c.tone}
                    for c in k.changes
                ],
            }
            for k in figures
        ],  # fmt: skip
        "headline": headline,
        "quality_flagged": flagged,
    }
    return json.dumps(summary, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


EXTRACTS = {
    "comparisons.csv": "the first screen's figures against each baseline, with their change",
    "daily.csv": "plays, listeners, hours and skip rate per day of the charts, and plays against "
    "the same weekday a week before and the 7 days before",
    "artists.csv": "top 100 artists by plays",
    "tracks.csv": "top 100 tracks by plays",
    "countries.csv": "plays and skip rate per country",
    "movers.csv": "the period's trends (up to 500, strongest first) with the numbers behind them "
    "and the days of history each had",
    "data_quality.csv": "plays set aside per day and reason, and plays quarantined",
}


Table = tuple[list[str], list[list[Any]]]

# movers.csv: its column, then the Mover field it holds (the baseline is the "usual level").
MOVER_COLUMNS = (
    ("day", "day"),
    ("entity_type", "entity_type"),
    ("entity_id", "entity_id"),
    ("name", "name"),
    ("kind", "kind"),
    ("plays", "plays"),
    ("usual_level", "baseline_level"),
    ("ratio", "ratio"),
    ("robust_z", "robust_z"),
    ("last_7d_plays", "last_7d_plays"),
    ("wow_growth", "wow_growth"),
    ("wow_z", "wow_z"),
    ("score", "score"),
    ("significant", "significant"),
)


def extracts(facts: ReportFacts, figures: list[Kpi] | None = None) -> dict[str, str]:
    """The report's CSV files by name: what the charts, figures and sentences were drawn from."""
    tables: dict[str, Table] = {
        "comparisons.csv": _comparisons_table(facts, kpis(facts) if figures is None else figures),
        "daily.csv": _daily_table(facts),
        "artists.csv": (
            ["artist_id", "name", "plays", "share", "skip_rate"],
            [[a.key, a.name, a.plays, _rate(a.share), _rate(a.skip_rate)] for a in facts.artists],
        ),
        "tracks.csv": (
            ["track_id", "name", "plays", "share"],
            [[t.key, t.name, t.plays, _rate(t.share)] for t in facts.tracks],
        ),
        "countries.csv": (
            ["country", "plays", "share", "skip_rate"],
            [[c.key, c.plays, _rate(c.share), _rate(c.skip_rate)] for c in facts.countries],
        ),
        "movers.csv": (
            [*(column for column, _ in MOVER_COLUMNS), "history_days"],
            [
                [*(getattr(m, field) for _, field in MOVER_COLUMNS), facts.history_of(m)]
                for m in facts.movers
            ],
        ),  # fmt: skip
        "data_quality.csv": _data_quality_table(facts),
    }
    return {name: _csv(header, rows) for name, (header, rows) in tables.items()}


def _comparisons_table(facts: ReportFacts, figures: list[Kpi]) -> Table:
    """One row per figure and baseline: the figure, the baseline's, the change and its tone."""
    header = ["metric", "value", "against", "baseline_first_day", "baseline_last_day",
              "baseline_days_aggregated", "baseline_value", "change", "change_unit", "tone"]  # fmt: skip
    now = facts.figures
    units = {metric: CHANGE_UNITS[unit] for metric, _, unit in METRICS}
    rows = [
        [k.metric, _rate(getattr(now, k.metric)), c.against, b.first, b.last, b.aggregated_days,
         _rate(c.baseline), c.exact, units[k.metric], c.tone]
        for k in figures
        for b, c in zip(facts.baselines, k.changes, strict=True)
    ]  # fmt: skip
    return header, rows


# How comparisons.csv states each kind of change.
CHANGE_UNITS = {"relative": "fraction", "points": "percentage_points", "count": "plays"}


def _daily_table(facts: ReportFacts) -> Table:
    """Each day of the charts; plays against the same weekday a week before and the mean of
    the 7 days before (blank where those were not aggregated or the window starts)."""
    header = ["day", "aggregated", "plays", "listeners", "hours_played", "skip_rate",
              "plays_vs_week_before", "plays_vs_7_day_average"]  # fmt: skip
    days = facts.days
    rows = []
    for i, d in enumerate(days):
        week_before = days[i - 7] if i >= 7 and days[i - 7].aggregated else None
        trailing = [e.plays for e in days[max(i - 7, 0) : i] if e.aggregated] if i >= 7 else []
        average = sum(trailing) / len(trailing) if trailing else None
        rows.append([
            d.day, d.aggregated, d.plays, d.listeners, round(d.ms_played / 3_600_000, 3),
            _rate(d.skip_rate),
            _growth(d.plays, week_before.plays if week_before else None) if d.aggregated else None,
            _growth(d.plays, average) if d.aggregated else None,
        ])  # fmt: skip
    return header, rows


def _growth(new: float, old: float | None) -> float | None:
    return None if not old else round(new / old - 1.0, 6)


def _data_quality_table(facts: ReportFacts) -> Table:
    """One column per reason a play was set aside on any day, for the period's days."""
    reasons = sorted({r for d in facts.days for r in d.rejected})
    header = ["day", "aggregated", "plays_counted", *reasons, "quarantined"]
    rows = [
        [d.day, d.aggregated, d.plays, *(d.rejected.get(r, 0) for r in reasons), d.quarantined]
        for d in facts.days
        if d.day >= facts.period.start
    ]
    return header, rows


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
