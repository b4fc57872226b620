"""Task of ``trend_detection``: find the day's trends, replace its rows, announce the significant.
The job is :func:`spotify_agent.analytics.trend_detection.detect_listening_trends`."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import TrendDetectionConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.analytics import days_asked_for
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class DetectTrendsOperator(WarehouseOperator):
    """Detects artist and track trends for each day to look at (the conf's ``day``, else the
    days the triggering events announce, else the latest aggregated day), replaces
    each day's ``listening_trends`` rows in one transaction with its audit row, and puts the
    significant ones in the extra of its outlet's Asset event (the day's trends, for reporting)."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.analytics.trend_detection import detect_listening_trends
        from spotify_agent_airflow.audit import attempt_of

        conf = read_conf(context, TrendDetectionConf)
        engine = self.warehouse_engine()
        days = days_asked_for(context, conf.day, engine)
        found, summary = detect_listening_trends(engine, days, conf, attempt_of(context))
        for day in found:
            log.info("%s", day.summary_line())
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = summary
        return summary


class AnnounceSignificantTrendsOperator(BaseOperator):
    """Updates its outlet (``significant_listening_trends``) with the significant trends the
    ``detect`` task found, naming them in the event's extra; skipped when there are none, so
    consumers (content, alerting) run only when there is something to say."""

    def __init__(self, *, detect_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.detect_task_id = detect_task_id

    def execute(self, context: Any) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        found = context["ti"].xcom_pull(task_ids=self.detect_task_id) or {}
        if not found.get("significant"):
            raise AirflowSkipException("no significant trend")
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = found
        return int(found["significant"])
