"""The extra links tasks show in the Airflow UI.

An extra link is computed in the worker when the task ends and stored as an XCom; the UI shows
it as a button on the task instance. No plugin registration is needed for our own operators.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink


class _ReportLink(BaseOperatorLink):
    """The report a task wrote: the URL it pushed under ``report_url_<kind>``."""

    kind = ""

    @property
    def name(self) -> str:
        return f"{self.kind.capitalize()} report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # Not exported by airflow.sdk in 3.3; the class the task's own xcom_pull uses.
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(ti_key=ti_key, key=f"report_url_{self.kind}")
        return str(url) if url else ""


class DailyReportLink(_ReportLink):
    kind = "daily"


class WeeklyReportLink(_ReportLink):
    kind = "weekly"
