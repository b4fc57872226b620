"""The ``/reports/`` index: one row per stored report, newest first, daily then weekly, with its
date, title and headline figures, in the report's own look (one page, inline CSS, nothing to
fetch).

It reads the object store the reports are in (``reports/<kind>/<label>/summary.json``, written
beside each ``report.html``), so it needs no warehouse: the API server serves it from whatever
store the workers write to. A report built before summaries existed is listed by its label.
Light on purpose: the API server imports this module.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
SUMMARY_FILE = "summary.json"
KINDS = ("daily", "weekly")
# The folder names a report of each kind lives under (anything else in the store is ignored).
LABELS = {"daily": re.compile(r"\d{4}-\d{2}-\d{2}"), "weekly": re.compile(r"\d{4}-W\d{2}")}
# Rows per kind; older ones are counted, not listed.
SHOWN = {"daily": 60, "weekly": 60}
# The index shows these figures of a report's first screen.
INDEX_METRICS = ("plays", "listeners")
DIRECTIONS, TONES = ("up", "down", "flat"), ("good", "bad", "neutral")


@dataclass(frozen=True)
class IndexRow:
    kind: str
    label: str
    href: str  # relative to the index: "daily/2026-11-22/report.html"
    title: str
    dates: str
    figures: list[dict[str, Any]] = field(default_factory=list)  # as in summary.json
    quality_flagged: bool = False
    summarised: bool = True  # False: built before summaries, listed by its label only


@dataclass(frozen=True)
class IndexGroup:
    kind: str
    rows: list[IndexRow]
    older: int  # reports of this kind past the rows shown


def template_environment() -> Any:
    """The reports' Jinja environment: autoescaped, strict, templates beside this module."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_index(root: Any) -> str:
    """The index page of the reports under ``root`` (the object store's ``reports/``)."""
    groups = [index_group(root, kind) for kind in KINDS]
    return str(template_environment().get_template("index.html.j2").render(groups=groups))


def index_group(root: Any, kind: str) -> IndexGroup:
    """The newest reports of ``kind`` under ``root`` (a path or ``ObjectStoragePath``)."""
    folder = root / kind
    names = [p.name for p in folder.iterdir()] if folder.exists() else []
    labels = sorted((n for n in names if LABELS[kind].fullmatch(n)), reverse=True)
    shown = labels[: SHOWN[kind]]
    return IndexGroup(kind, [index_row(folder / label, kind, label) for label in shown],
                      older=len(labels) - len(shown))  # fmt: skip


def index_row(folder: Any, kind: str, label: str) -> IndexRow:
    href = f"{kind}/{label}/report.html"
    noun = "day" if kind == "daily" else "week"
    summary = _summary(folder / SUMMARY_FILE)
    if summary is None:
        return IndexRow(kind, label, href, f"Listening report \u00b7 {noun} {label}", label,
                        summarised=False)  # fmt: skip
    figures = [
        _figure(f) for f in summary.get("figures") or [] if isinstance(f, dict)
        and f.get("metric") in INDEX_METRICS
    ]  # fmt: skip
    return IndexRow(
        kind=kind,
        label=label,
        href=href,
        title=str(summary.get("title", label)),
        dates=str(summary.get("dates", label)),
        figures=figures,
        quality_flagged=bool(summary.get("quality_flagged", False)),
    )


def _figure(figure: dict[str, Any]) -> dict[str, Any]:
    """A summary's figure with every field the page shows (a damaged one shows blanks)."""
    changes = [c for c in figure.get("changes") or [] if isinstance(c, dict)]
    return {
        "metric": str(figure.get("metric", "")),
        "name": str(figure.get("name", "")),
        "value": str(figure.get("value", "")),
        "changes": [
            {
                "against": str(c.get("against", "")),
                "text": str(c.get("text", "n/a")),
                "direction": c.get("direction") if c.get("direction") in DIRECTIONS else "flat",
                "tone": c.get("tone") if c.get("tone") in TONES else "neutral",
            }
            for c in changes
        ],
    }


def _summary(path: Any) -> dict[str, Any] | None:
    """A report's summary, or None when it has none (or one this code cannot read)."""
    try:
        if not path.exists():
            return None
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        log.warning("unreadable report summary %s: %s", path, error)
        return None
    return summary if isinstance(summary, dict) else None
