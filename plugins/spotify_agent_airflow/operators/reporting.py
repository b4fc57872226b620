"""Tasks of ``reporting``: build and store the reports, then e-mail them when asked to."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import ReportingConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.links import DailyReportLink, WeeklyReportLink
from spotify_agent_airflow.operators.analytics import days_asked_for

log = logging.getLogger(__name__)
SMTP_CONN_ID = "smtp_reports"
RECIPIENTS_VARIABLE = "report_recipients"


class BuildReportsOperator(BaseOperator):
    """Writes each report of the run (``report.html`` and its CSV extracts) under
    ``reports/<kind>/<label>/`` in the object store, records it in ``reports`` with an audit
    row, links it from the task (extra links) and names it in its outlet's Asset event."""

    operator_extra_links = (DailyReportLink(), WeeklyReportLink())

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.urls import report_url

        conf = read_conf(context, ReportingConf)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        days = days_asked_for(context, conf.day, engine)
        with engine.connect() as connection:
            reported_weeks = weekly_labels(connection)
        periods = periods_for(days, conf.period, reported_weeks)
        built = [self._build(context, engine, period) for period in periods]
        for item in built:
            item["url"] = report_url(item["kind"], item["label"])
            # The newest of each kind is the task's extra link.
            context["ti"].xcom_push(key=f"report_url_{item['kind']}", value=item["url"])
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "reports": [
                    {k: item[k] for k in ("kind", "label", "url", "sha256")} for item in built
                ]
            }
        if not built:
            log.info("no aggregated day to report on")
        return built

    def _build(self, context: Any, engine: Any, period: Any) -> dict[str, Any]:
        from spotify_agent.analytics.report import render_report
        from spotify_agent.analytics.report_facts import report_facts
        from spotify_agent.analytics.report_store import record_report
        from spotify_agent.core.objects import ensure_parent
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.object_store import object_store_root

        with engine.connect() as connection:
            facts = report_facts(connection, period)
        report = render_report(facts)
        folder = object_store_root() / period.key_prefix
        # Extracts first, the report last: a report.html in the store has its extracts beside it.
        for name, text in sorted(report.extracts.items()):
            path = folder / name
            ensure_parent(path)
            path.write_text(text)
        (folder / "report.html").write_text(report.html)
        ref = run_ref(context)
        with engine.begin() as connection:
            record_report(
                connection,
                period,
                report,
                run_id=ref.run_id,
                trace_id=ref.trace_id,
                at=datetime.now(UTC),
            )
            audit_action(
                connection,
                context,
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
            )
        log.info("%s report %s -> %s: %s", period.kind, period.label, period.key_prefix,
                 " ".join(report.headline))  # fmt: skip
        return {
            "kind": period.kind,
            "label": period.label,
            "prefix": period.key_prefix,
            "sha256": report.sha256,
            "headline": report.headline,
            "quality_flagged": report.quality_flagged,
            "extracts": sorted(report.extracts),
        }


def periods_for(days: list[date], period: str, reported_weeks: Collection[str] = ()) -> list[Any]:
    """Each day's daily report, and its ISO week's report when asked for or (``auto``) when the
    day is a Sunday (the week complete) or the week already has a report (a day of it was
    aggregated again: its week must not keep the old figures); a week is built once."""
    from spotify_agent.analytics.report_facts import ReportPeriod

    periods: list[ReportPeriod] = []
    for day in sorted(set(days)):
        if period in ("auto", "daily"):
            periods.append(ReportPeriod.daily(day))
        week = ReportPeriod.weekly(day)
        wanted = period == "weekly" or (
            period == "auto" and (day.weekday() == 6 or week.label in reported_weeks)
        )
        if wanted and week not in periods:
            periods.append(week)
    return periods


def weekly_labels(connection: Any) -> set[str]:
    from sqlalchemy import select

    from spotify_agent.warehouse.schema import reports

    query = select(reports.c.label).where(reports.c.kind == "weekly")
    return set(connection.execute(query).scalars())


class EmailReportsOperator(BaseOperator):
    """E-mails the reports ``build`` wrote through the ``smtp_reports`` connection: a summary in
    the body, the report and its extracts attached, a link to it. Skipped with the reason when
    no one is to receive them or no connection is set; a report already sent, same text to the
    same people, is not sent again (unless ``resend``)."""

    def __init__(
        self,
        *,
        build_task_id: str,
        warehouse_conn_id: str = "warehouse_default",
        smtp_conn_id: str = SMTP_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.build_task_id = build_task_id
        self.warehouse_conn_id = warehouse_conn_id
        self.smtp_conn_id = smtp_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent_airflow.hooks import connection_or_none

        conf = read_conf(context, ReportingConf)
        recipients = normalised(list(conf.email_to) or recipients_from_variable())
        if not recipients:
            raise AirflowSkipException(
                f"no recipients: set email_to or the {RECIPIENTS_VARIABLE} variable"
            )
        if connection_or_none(self.smtp_conn_id) is None:
            raise AirflowSkipException(f"no {self.smtp_conn_id} connection: nothing e-mailed")
        built = context["ti"].xcom_pull(task_ids=self.build_task_id) or []
        counts = {"emailed": 0, "already_sent": 0}
        for item in built:
            sent = self._send(context, item, recipients, resend=conf.resend)
            counts["emailed" if sent else "already_sent"] += 1
        return counts

    def _send(
        self, context: Any, item: dict[str, Any], recipients: list[str], *, resend: bool
    ) -> bool:
        import tempfile
        from pathlib import Path

        from airflow.providers.smtp.hooks.smtp import SmtpHook

        from spotify_agent.analytics.report_store import already_emailed, mark_emailed
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        kind, label, sha256 = item["kind"], item["label"], item["sha256"]
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            if not resend and already_emailed(connection, kind, label, sha256, recipients):
                log.info("%s report %s already went to these recipients", kind, label)
                return False
        folder = object_store_root() / item["prefix"]
        with tempfile.TemporaryDirectory(prefix="report-mail-") as scratch:
            files = []
            for name in ["report.html", *item["extracts"]]:
                # The names the report's links use, so the saved attachments work together.
                local = Path(scratch) / name
                local.write_bytes((folder / name).read_bytes())
                files.append(str(local))
            with SmtpHook(smtp_conn_id=self.smtp_conn_id) as smtp:
                smtp.send_email_smtp(
                    to=recipients,
                    subject=email_subject(item),
                    html_content=email_body(item),
                    files=files,
                )
        with engine.begin() as connection:
            mark_emailed(connection, kind, label, sha256, recipients, datetime.now(UTC))
            audit_action(
                connection,
                context,
                "report_emailed",
                counts={"recipients": len(recipients), "attachments": len(files)},
                entity_type=f"{kind}_report",
                entity_key=label,
            )
        return True


def recipients_from_variable() -> list[str]:
    from airflow.sdk import Variable

    from spotify_agent.analytics.confs import ReportingConf

    raw = str(Variable.get(RECIPIENTS_VARIABLE, default="") or "")
    addresses = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    # The same rules as the Param: a bad address fails naming the variable, not at the server.
    try:
        return list(ReportingConf(email_to=addresses).email_to)
    except ValueError as error:
        raise ValueError(f"variable {RECIPIENTS_VARIABLE}: {error}") from error


def normalised(addresses: list[str]) -> list[str]:
    """Each address once, lower-cased (what the e-mail dedupe compares)."""
    return sorted({address.strip().lower() for address in addresses})


def email_subject(item: dict[str, Any]) -> str:
    noun = "Daily" if item["kind"] == "daily" else "Weekly"
    flag = " [data quality]" if item["quality_flagged"] else ""
    return f"{noun} listening report {item['label']}{flag}: {item['headline'][0]}"


def email_body(item: dict[str, Any]) -> str:
    from html import escape

    lines = "".join(f"<li>{escape(sentence)}</li>" for sentence in item["headline"])
    return (
        f"<p><b>Listening report {escape(item['label'])}</b></p><ul>{lines}</ul>"
        f'<p><a href="{escape(item["url"])}">Open the report</a> (Airflow login), or the '
        "attached report.html; the CSV extracts are attached too.</p>"
    )
