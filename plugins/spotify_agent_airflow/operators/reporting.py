"""Tasks of ``reporting``: build and store the reports, then e-mail them when asked to.
The jobs are :func:`spotify_agent.analytics.reporting.build_reports` and ``email_reports``."""

from __future__ import annotations

import logging
from typing import Any, Literal

from spotify_agent.analytics.confs import ReportingConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import key_outlets_by_day, partition_day
from spotify_agent_airflow.links import DailyReportLink, WeeklyReportLink
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)
SMTP_CONN_ID = "smtp_reports"
RECIPIENTS_VARIABLE = "report_recipients"


class BuildReportsOperator(WarehouseOperator):
    """Writes the run's ``kind`` report (the day, or the ISO week, of its partition key; the
    conf's ``day`` without one): ``report.html`` and its CSV extracts under
    ``reports/<kind>/<label>/`` in the object store, recorded in ``reports`` with an audit row,
    linked from the task (extra links) and named in its outlet's Asset event."""

    operator_extra_links = (DailyReportLink(), WeeklyReportLink())

    def __init__(self, *, kind: Literal["daily", "weekly"] = "daily", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from spotify_agent.analytics.reporting import build_reports
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.object_store import object_store_root
        from spotify_agent_airflow.urls import report_path

        conf = read_conf(context, ReportingConf)
        day = partition_day(context, conf.day, week=self.kind == "weekly")
        engine = self.warehouse_engine()
        reports = build_reports(engine, object_store_root(), [day], self.kind, attempt_of(context))
        built = [{**r.as_dict(), "path": report_path(r.kind, r.label)} for r in reports]
        for item in built:
            # The newest of each kind is the task's extra link: a path, so the UI's host serves it.
            context["ti"].xcom_push(key=f"report_url_{item['kind']}", value=item["path"])
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "reports": [
                    {k: item[k] for k in ("kind", "label", "path", "sha256")} for item in built
                ]
            }
        key_outlets_by_day(context, self.outlets, day.isoformat())
        log.info("reports built: %s", ", ".join(f"{i['kind']} {i['label']}" for i in built))
        return built


class EmailReportsOperator(WarehouseOperator):
    """E-mails the reports ``build`` wrote through the ``smtp_reports`` connection: a summary in
    the body, the report and its extracts attached, a link to it. Skipped with the reason when
    no one is to receive them or no connection is set; a report already sent, same text to the
    same people, is not sent again (unless ``resend``)."""

    def __init__(
        self,
        *,
        build_task_id: str,
        smtp_conn_id: str = SMTP_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.build_task_id = build_task_id
        self.smtp_conn_id = smtp_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from airflow.providers.smtp.hooks.smtp import SmtpHook
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent.analytics.reporting import email_reports
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks import connection_or_none
        from spotify_agent_airflow.object_store import object_store_root
        from spotify_agent_airflow.urls import absolute_url

        conf = read_conf(context, ReportingConf)
        recipients = list(conf.email_to) or recipients_from_variable()
        if not recipients:
            raise AirflowSkipException(
                f"no recipients: set email_to or the {RECIPIENTS_VARIABLE} variable"
            )
        if connection_or_none(self.smtp_conn_id) is None:
            raise AirflowSkipException(f"no {self.smtp_conn_id} connection: nothing e-mailed")

        def send(to: list[str], subject: str, html: str, files: list[str]) -> None:
            with SmtpHook(smtp_conn_id=self.smtp_conn_id) as smtp:
                smtp.send_email_smtp(to=to, subject=subject, html_content=html, files=files)

        emailed = email_reports(
            self.warehouse_engine(),
            object_store_root(),
            [
                {**item, "url": absolute_url(item["path"])}
                for item in context["ti"].xcom_pull(task_ids=self.build_task_id) or []
            ],
            recipients,
            attempt_of(context),
            send=send,
            resend=conf.resend,
        )
        log.info("%d reports e-mailed, %d had gone already", emailed.emailed, emailed.already_sent)
        return emailed.as_result()


def recipients_from_variable() -> list[str]:
    from airflow.sdk import Variable

    raw = str(Variable.get(RECIPIENTS_VARIABLE, default="") or "")
    addresses = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    # The same rules as the Param: a bad address fails naming the variable, not at the server.
    try:
        return list(ReportingConf(email_to=addresses).email_to)
    except ValueError as error:
        raise ValueError(f"variable {RECIPIENTS_VARIABLE}: {error}") from error
