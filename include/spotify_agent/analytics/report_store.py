"""The ``reports`` table: which reports exist, where, and what was e-mailed to whom."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from spotify_agent.analytics.report import Report
from spotify_agent.analytics.report_facts import ReportPeriod
from spotify_agent.warehouse.schema import reports
from spotify_agent.warehouse.upsert import upsert


def record_report(
    connection: Connection,
    period: ReportPeriod,
    report: Report,
    *,
    run_id: str,
    trace_id: str,
    at: datetime,
) -> None:
    """Insert or replace the report's row; what was e-mailed stays as it was."""
    upsert(
        connection,
        reports,
        [
            {
                "kind": period.kind,
                "label": period.label,
                "period_start": period.start,
                "period_end": period.end,
                "object_prefix": period.key_prefix,
                "html_sha256": report.sha256,
                "html_bytes": len(report.html.encode()),
                "headline": report.headline,
                "quality_flagged": report.quality_flagged,
                "run_id": run_id,
                "trace_id": trace_id,
                "created_at": at,
            }
        ],
        key=("kind", "label"),
    )


def already_emailed(
    connection: Connection, kind: str, label: str, sha256: str, recipients: Sequence[str]
) -> bool:
    """Whether this very text already went to these very people."""
    row = connection.execute(
        select(reports.c.emailed_sha256, reports.c.emailed_to).where(
            reports.c.kind == kind, reports.c.label == label
        )
    ).first()
    return (
        row is not None
        and row.emailed_sha256 == sha256
        and sorted(row.emailed_to or []) == sorted(recipients)
    )


def mark_emailed(
    connection: Connection,
    kind: str,
    label: str,
    sha256: str,
    recipients: Sequence[str],
    at: datetime,
) -> None:
    connection.execute(
        update(reports)
        .where(reports.c.kind == kind, reports.c.label == label)
        .values(emailed_sha256=sha256, emailed_to=sorted(recipients), emailed_at=at)
    )


def report_row(connection: Connection, kind: str, label: str) -> dict[str, Any] | None:
    row = (
        connection.execute(select(reports).where(reports.c.kind == kind, reports.c.label == label))
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
