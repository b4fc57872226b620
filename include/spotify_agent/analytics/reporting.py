"""The ``reporting`` jobs: build each report of the run (``report.html``, its CSV extracts and
the index's ``summary.json`` under ``reports/<kind>/<label>/`` in the object store, recorded in ``reports`` with an audit
row), then e-mail them to the people asked for.

Idempotent: a report's keys derive from its period, so a re-run rewrites the same objects and
row; a report already sent, same text to the same people, is not sent again (unless ``resend``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from spotify_agent.analytics.report import render_report
from spotify_agent.analytics.report_facts import ReportKind, ReportPeriod, report_facts
from spotify_agent.analytics.report_index import SUMMARY_FILE
from spotify_agent.analytics.report_store import already_emailed, mark_emailed, record_report
from spotify_agent.core.audit import Attempt
from spotify_agent.core.objects import ensure_parent

log = logging.getLogger(__name__)

# Sends one e-mail: recipients, subject, HTML body, the paths of the files to attach.
SendEmail = Callable[[list[str], str, str, list[str]], None]


@dataclass(frozen=True)
class BuiltReport:
    """One report written and recorded."""

    kind: str
    label: str
    prefix: str
    sha256: str
    headline: tuple[str, ...]
    quality_flagged: bool
    extracts: tuple[str, ...]
    # Every day of the period is over (a week's report is rebuilt as its days come in).
    complete: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The report as the task returns it (``email`` reads it back from XCom)."""
        return {
            "kind": self.kind,
            "label": self.label,
            "prefix": self.prefix,
            "sha256": self.sha256,
            "headline": list(self.headline),
            "quality_flagged": self.quality_flagged,
            "extracts": list(self.extracts),
            "complete": self.complete,
        }


@dataclass(frozen=True)
class EmailedReports:
    emailed: int
    already_sent: int

    def as_result(self) -> dict[str, int]:
        return {"emailed": self.emailed, "already_sent": self.already_sent}


def build_reports(
    engine: Engine,
    objects: Any,
    days: list[date],
    kind: ReportKind,
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> tuple[BuiltReport, ...]:
    """Build each day's ``daily`` report, or the ``weekly`` report of each ISO week the days
    fall in."""
    return tuple(
        build_report(engine, objects, each, attempt, now=now) for each in periods_for(days, kind)
    )


def build_report(
    engine: Engine, objects: Any, period: ReportPeriod, attempt: Attempt, *, now: datetime | None
) -> BuiltReport:
    """Write one report under ``objects`` and record it with its audit row."""
    with engine.connect() as connection:
        facts = report_facts(connection, period)
    report = render_report(facts)
    folder = objects / period.key_prefix
    # Extracts and the index's summary first, the report last: a report.html in the store has
    # its extracts beside it.
    for name, text in sorted({**report.extracts, SUMMARY_FILE: report.summary}.items()):
        path = folder / name
        ensure_parent(path)
        path.write_text(text)
    (folder / "report.html").write_text(report.html)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        record_report(
            connection, period, report, run_id=attempt.run_id, trace_id=attempt.trace_id, at=at
        )
        attempt.record(
            connection,
            "report_published",
            counts={
                "rows_written": 1,
                "html_bytes": len(report.html.encode()),
                "extracts": len(report.extracts),
                "movers": len(facts.movers),
                "missing_days": len(facts.missing_days),
                "plays_set_aside": sum(facts.rejected.values()),
            },
            outcome="flagged" if report.quality_flagged else "done",
            entity_type=f"{period.kind}_report",
            entity_key=period.label,
            detail=f"{period.key_prefix}/report.html sha256={report.sha256}",
            at=at,
        )
    log.info("%s report %s -> %s: %s", period.kind, period.label, period.key_prefix,
             " ".join(report.headline))  # fmt: skip
    return BuiltReport(period.kind, period.label, period.key_prefix, report.sha256,
                       tuple(report.headline), report.quality_flagged,
                       tuple(sorted(report.extracts)), complete=period.end <= at.date())  # fmt: skip


def periods_for(days: list[date], kind: ReportKind) -> list[ReportPeriod]:
    """Each day's daily report, or each ISO week's the days fall in, oldest first, each once."""
    make = ReportPeriod.daily if kind == "daily" else ReportPeriod.weekly
    return sorted({make(day) for day in days}, key=lambda period: period.start)


def email_reports(
    engine: Engine,
    objects: Any,
    built: Sequence[Mapping[str, Any]],
    recipients: Sequence[str],
    attempt: Attempt,
    *,
    send: SendEmail,
    resend: bool = False,
    now: datetime | None = None,
) -> EmailedReports:
    """E-mail each built report (as ``build`` returned it, with its ``url``) through ``send``,
    unless the same text already went to the same people. A week still in progress is not
    sent (its report is rebuilt as each day comes in; it goes once the week is over)."""
    to = normalised(recipients)
    ready = [item for item in built if item.get("complete", True)]
    for item in built:
        if item not in ready:
            log.info("%s report %s: the week is not over, not e-mailed yet", item["kind"],
                     item["label"])  # fmt: skip
    sent = [
        email_report(engine, objects, item, to, attempt, send=send, resend=resend, now=now)
        for item in ready
    ]
    return EmailedReports(emailed=sum(sent), already_sent=len(sent) - sum(sent))


def email_report(
    engine: Engine,
    objects: Any,
    item: Mapping[str, Any],
    recipients: list[str],
    attempt: Attempt,
    *,
    send: SendEmail,
    resend: bool,
    now: datetime | None,
) -> bool:
    """Send one report, attachments and all, and record that it went; False if it had."""
    kind, label, sha256 = item["kind"], item["label"], item["sha256"]
    with engine.connect() as connection:
        if not resend and already_emailed(connection, kind, label, sha256, recipients):
            log.info("%s report %s already went to these recipients", kind, label)
            return False
    folder = objects / item["prefix"]
    with tempfile.TemporaryDirectory(prefix="report-mail-") as scratch:
        files = []
        for name in ["report.html", *item["extracts"]]:
            # The names the report's links use, so the saved attachments work together.
            local = Path(scratch) / name
            local.write_bytes((folder / name).read_bytes())
            files.append(str(local))
        send(recipients, email_subject(item), email_body(item), files)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        mark_emailed(connection, kind, label, sha256, recipients, at)
        attempt.record(
            connection,
            "report_emailed",
            counts={"recipients": len(recipients), "attachments": len(files)},
            entity_type=f"{kind}_report",
            entity_key=label,
            at=at,
        )
    return True


def normalised(addresses: Sequence[str]) -> list[str]:
    """Each address once, lower-cased (what the e-mail dedupe compares)."""
    return sorted({address.strip().lower() for address in addresses})


def email_subject(item: Mapping[str, Any]) -> str:
    noun = "Daily" if item["kind"] == "daily" else "Weekly"
    flag = " [data quality]" if item["quality_flagged"] else ""
    return f"{noun} listening report {item['label']}{flag}: {item['headline'][0]}"


def email_body(item: Mapping[str, Any]) -> str:
    lines = "".join(f"<li>{escape(sentence)}</li>" for sentence in item["headline"])
    return (
        f"<p><b>Listening report {escape(item['label'])}</b></p><ul>{lines}</ul>"
        f'<p><a href="{escape(item["url"])}">Open the report</a> (Airflow login), or the '
        "attached report.html; the CSV extracts are attached too.</p>"
    )
