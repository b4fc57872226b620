"""The daily and weekly report: one self-contained HTML file (charts inline as SVG) and CSV
extracts, from :class:`ReportFacts`.

The first screen answers "how did the period go": four figures against the previous period, the
three sentences that matter (volume, the biggest mover, data quality), then the charts and the
tables with the numbers behind them. The same facts always give the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spotify_agent.analytics import charts
from spotify_agent.analytics.report_facts import ReportFacts, Totals
from spotify_agent.core.numbers import format_number

TEMPLATES = Path(__file__).with_name("templates")
# Movers per direction in the chart and the table's first rows.
MOVERS_SHOWN = 10
# Share of plays set aside above which the data-quality line is flagged.
QUALITY_ALERT = 0.01


@dataclass(frozen=True)
class Kpi:
    name: str
    value: str
    change: str  # "+4.2% vs previous week", or "" with nothing to compare
    direction: str  # up, down or flat (the arrow; not a judgement)


@dataclass(frozen=True)
class Report:
    html: str
    extracts: dict[str, str]  # file name -> CSV text
    headline: list[str]
    quality_flagged: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.html.encode()).hexdigest()


def render_report(facts: ReportFacts) -> Report:
    import jinja2

    period = facts.period
    noun = "day" if period.kind == "daily" else "week"
    rising = [m for m in facts.movers if m.kind in ("rising", "new")][:MOVERS_SHOWN]
    falling = [m for m in facts.movers if m.kind == "falling"][:MOVERS_SHOWN]
    reasons = sorted({r for d in facts.days for r in d.rejected})
    headline, flagged = headline_sentences(facts)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["n"] = format_number
    environment.filters["pct"] = _pct
    html = environment.get_template("report.html.j2").render(
        facts=facts,
        period=period,
        noun=noun,
        kpis=kpis(facts.totals, facts.previous, noun),
        headline=headline,
        quality_flagged=flagged,
        movers=[*rising, *falling],
        charts={
            "plays": charts.plays_over_time(facts.days, period.start),
            "skips": charts.skip_rate_over_time(facts.days),
            "movers": charts.movers(rising, falling) if rising or falling else None,
            "countries": charts.shares(facts.countries[:10], "Plays by country"),
            "artists": charts.shares(facts.artists[:10], "Top artists", charts.GREEN),
            "hours": charts.hours(facts.hours),
            "quality": charts.data_quality(facts.days, reasons),
        },
        reasons=reasons,
        extracts=EXTRACTS,
    )
    return Report(html, extracts(facts), headline, flagged)


def kpis(now: Totals, before: Totals, noun: str) -> list[Kpi]:
    def change(new: float, old: float) -> tuple[str, str]:
        if not old:
            return "", "flat"
        delta = (new - old) / old
        return f"{delta:+.1%} vs previous {noun}", _direction(delta)

    skip_now, skip_before = now.skip_rate, before.skip_rate
    if skip_now is not None and skip_before is not None:
        points = 100 * (skip_now - skip_before)
        skip_change = (f"{points:+.1f} pts vs previous {noun}", _direction(points))
    else:
        skip_change = ("", "flat")
    return [
        Kpi("Plays", format_number(now.plays), *change(now.plays, before.plays)),
        Kpi("Listeners", format_number(now.listeners), *change(now.listeners, before.listeners)),
        Kpi(
            "Hours played",
            format_number(round(now.hours_played, 1)),
            *change(now.hours_played, before.hours_played),
        ),
        Kpi("Skip rate", _pct(skip_now), *skip_change),
    ]


def headline_sentences(facts: ReportFacts) -> tuple[list[str], bool]:
    """Volume, the biggest mover and data quality, in words; and whether quality is flagged."""
    noun = "day" if facts.period.kind == "daily" else "week"
    now, before = facts.totals, facts.previous
    volume = f"{format_number(now.plays)} plays by {format_number(now.listeners)} listeners"
    if before.plays:
        delta = (now.plays - before.plays) / before.plays
        volume += f", {'up' if delta >= 0 else 'down'} {abs(delta):.1%} on the previous {noun}."
    else:
        volume += f"; nothing to compare with the previous {noun}."
    sentences = [volume]
    if facts.movers:
        template, numbers = facts.movers[0].sentence()
        shown = {k: format_number(v) for k, v in numbers.items()}
        sentences.append("Biggest mover: " + template.format(**shown))
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


EXTRACTS = {
    "daily.csv": "plays, listeners, hours and skip rate per day of the charts",
    "artists.csv": "top 100 artists by plays",
    "tracks.csv": "top 100 tracks by plays",
    "countries.csv": "plays and skip rate per country",
    "movers.csv": "the period's trends (up to 500, strongest first) with the numbers behind them",
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


def extracts(facts: ReportFacts) -> dict[str, str]:
    """The report's CSV files by name: what the charts and sentences were drawn from."""
    tables: dict[str, Table] = {
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
            [column for column, _ in MOVER_COLUMNS],
            [[getattr(m, field) for _, field in MOVER_COLUMNS] for m in facts.movers],
        ),
        "data_quality.csv": _data_quality_table(facts),
    }
    return {name: _csv(header, rows) for name, (header, rows) in tables.items()}


def _daily_table(facts: ReportFacts) -> Table:
    header = ["day", "aggregated", "plays", "listeners", "hours_played", "skip_rate"]
    rows = [
        [d.day, d.aggregated, d.plays, d.listeners, round(d.ms_played / 3_600_000, 3),
         _rate(d.skip_rate)]
        for d in facts.days
    ]  # fmt: skip
    return header, rows


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


def _direction(delta: float) -> str:
    return "up" if delta > 0 else "down" if delta < 0 else "flat"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
