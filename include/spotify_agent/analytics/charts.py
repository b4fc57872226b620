"""The report's charts as SVG text (matplotlib, no display).

SVGs are embedded in the HTML as they are: the report stays one file, sharp at any zoom, and
text in charts stays text (``svg.fonttype = none``). Rendering is deterministic (no date in the
metadata, a fixed id salt), so the same facts give the same bytes and a re-run rewrites the same
report. A chart with nothing to draw is its frame with the title and a line saying why (no
day aggregated, no plays set aside, too little history), never an empty plot.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from spotify_agent.analytics.report_facts import DayFigures, Ranked
from spotify_agent.analytics.trend_store import StoredTrend

# A palette that survives colour blindness (Okabe-Ito).
BLUE, ORANGE, GREEN, VERMILION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"
REASON_COLOURS = ["#D55E00", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#009E73"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "spotify-agent-report",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 10,
            "axes.titleweight": "bold",
            # Names are text, not TeX: "A$AP Rocky" must not start a formula.
            "text.parse_math": False,
        }
    )
    return plt


def _svg(figure: Any) -> str:
    plt = _pyplot()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    # The XML prolog and doctype are not valid inside HTML; the <svg> element is.
    return text[text.index("<svg") :]


def empty(title: str, reason: str, figsize: tuple[float, float]) -> str:
    """A chart's frame with its title and, where the plot would be, why there is none."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=figsize)
    axis.set_axis_off()
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.add_patch(
        plt.Rectangle((0, 0), 1, 1, facecolor="#f5f5f7", edgecolor="none", transform=axis.transAxes)
    )
    axis.text(0.5, 0.5, reason, ha="center", va="center", color="#555555", fontsize=10,
              wrap=True, transform=axis.transAxes)  # fmt: skip
    axis.set_title(title)
    return _svg(figure)


PLAYS_TITLE = "Plays and listeners per day (UTC)"


def plays_over_time(
    days: Sequence[DayFigures], highlight_from: Any, *, nothing: str = "No day aggregated"
) -> str:
    """Plays per day (bars, the report's own days darker) and listeners per day (line)."""
    if not any(d.aggregated for d in days):
        return empty(PLAYS_TITLE, nothing, (8, 2.6))
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 2.6))
    x = list(range(len(days)))
    colours = [BLUE if d.day >= highlight_from else "#9cc3dd" for d in days]
    axis.bar(x, [d.plays for d in days], color=colours, width=0.8, label="plays")
    missing = [i for i, d in enumerate(days) if not d.aggregated]
    if missing:
        top = max((d.plays for d in days), default=0) or 1
        axis.scatter(missing, [top * 0.02] * len(missing), marker="x", color=VERMILION,
                     label="not aggregated", zorder=3)  # fmt: skip
    axis.set_ylabel("plays")
    listeners = axis.twinx()
    # A day never aggregated breaks the line: no data, not zero listeners.
    counts = [d.listeners if d.aggregated else float("nan") for d in days]
    listeners.plot(x, counts, color=ORANGE, linewidth=1.6, label="listeners")
    listeners.set_ylabel("listeners")
    listeners.set_ylim(bottom=0)
    listeners.spines["top"].set_visible(False)
    _day_ticks(axis, days)
    handles = axis.get_legend_handles_labels()
    extra = listeners.get_legend_handles_labels()
    axis.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper left", frameon=False,
                ncol=3)  # fmt: skip
    axis.set_title(PLAYS_TITLE)
    return _svg(figure)


SKIPS_TITLE = "Skip rate per day (a timed play under 30 s)"


def skip_rate_over_time(days: Sequence[DayFigures], *, nothing: str = "No timed plays") -> str:
    if all(d.skip_rate is None for d in days):
        return empty(SKIPS_TITLE, nothing, (8, 2.0))
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 2.0))
    x = [i for i, d in enumerate(days) if d.skip_rate is not None]
    axis.plot(x, [100 * d.skip_rate for d in days if d.skip_rate is not None], color=VERMILION,
              marker="o", markersize=2.5, linewidth=1.4)  # fmt: skip
    axis.set_ylabel("% of timed plays")
    axis.set_ylim(bottom=0)
    _day_ticks(axis, days)
    axis.set_title(SKIPS_TITLE)
    return _svg(figure)


def movers(
    rising: Sequence[StoredTrend], falling: Sequence[StoredTrend], *, nothing: str = "No movers"
) -> str:
    """The strongest movers' scores, rising to the right, falling to the left; ``nothing``
    says why there are none."""
    shown = [*rising, *falling]
    if not shown:
        return empty("Top movers", nothing, (8, 1.4))
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 0.32 * max(len(shown), 3) + 0.8))
    labels = [f"{m.name[:40]} ({m.kind}, {m.entity_type})" for m in shown]
    values = [-m.score if m.kind == "falling" else m.score for m in shown]
    colours = [VERMILION if m.kind == "falling" else BLUE for m in shown]
    y = list(range(len(shown)))[::-1]
    axis.barh(y, values, color=colours, height=0.6)
    axis.set_ylim(-0.8, max(len(shown), 3) - 0.2)
    axis.set_yticks(y, labels)
    axis.axvline(0, color=GREY, linewidth=0.8)
    axis.set_xlabel("score: standard deviations outside the usual range (day or week)")
    axis.set_title("Top movers")
    return _svg(figure)


def shares(
    items: Sequence[Ranked], title: str, colour: str = BLUE, *, nothing: str = "No plays"
) -> str:
    if not items:
        return empty(title, nothing, (4, 1.7))
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4, 0.3 * max(len(items), 3) + 0.8))
    y = list(range(len(items)))[::-1]
    axis.barh(y, [100 * item.share for item in items], color=colour)
    axis.set_yticks(y, [item.name[:28] for item in items])
    axis.set_xlabel("% of plays")
    axis.set_title(title)
    return _svg(figure)


def hours(plays_by_hour: Sequence[int], *, nothing: str = "No plays") -> str:
    if not any(plays_by_hour):
        return empty("When people listen", nothing, (4, 2.2))
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4, 2.2))
    axis.bar(range(24), plays_by_hour, color=BLUE)
    axis.set_xticks(range(0, 24, 3))
    axis.set_xlabel("hour (UTC)")
    axis.set_ylabel("plays")
    axis.set_title("When people listen")
    return _svg(figure)


QUALITY_TITLE = "Plays set aside per day, by reason"


def data_quality(
    days: Sequence[DayFigures], reasons: Sequence[str], *, nothing: str = "No plays set aside"
) -> str:
    """Plays set aside per day, stacked by reason."""
    if not reasons:
        return empty(QUALITY_TITLE, nothing, (8, 1.4))
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 2.0))
    x = list(range(len(days)))
    bottom = [0] * len(days)
    for reason, colour in zip(reasons, REASON_COLOURS * 2, strict=False):
        values = [d.rejected.get(reason, 0) for d in days]
        axis.bar(x, values, bottom=bottom, color=colour, label=reason.replace("_", " "), width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axis.set_ylabel("plays set aside")
    _day_ticks(axis, days)
    axis.legend(loc="upper left", frameon=False, ncol=4)
    axis.set_title(QUALITY_TITLE)
    return _svg(figure)


def _day_ticks(axis: Any, days: Sequence[DayFigures]) -> None:
    step = max(len(days) // 8, 1)
    ticks = list(range(len(days) - 1, -1, -step))[::-1]
    axis.set_xticks(ticks, [days[i].day.strftime("%b %d") for i in ticks])
    axis.set_xlim(-0.6, len(days) - 0.4)
