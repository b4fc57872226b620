"""Task of ``trend_detection``: find the day's trends, replace its rows, announce the significant.
The job is :func:`spotify_agent.analytics.trend_detection.detect_listening_trends`."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import TrendDetectionConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import key_outlets_by_day, partition_day
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class DetectTrendsOperator(WarehouseOperator):
    """Detects artist and track trends for the run's day (its partition key; the conf's ``day``
    without one) against the history the warehouse holds, replaces the day's
    ``listening_trends`` rows in one transaction with its audit row, and puts the significant
    ones in the extra of its outlet's Asset event (keyed by the day, for reporting)."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.analytics.trend_detection import detect_listening_trends
        from spotify_agent_airflow.audit import attempt_of

        conf = read_conf(context, TrendDetectionConf)
        day = partition_day(context, conf.day)
        found, summary = detect_listening_trends(
            self.warehouse_engine(), [day], conf, attempt_of(context)
        )
        for each in found:
            log.info("%s", each.summary_line())
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = summary
        key_outlets_by_day(context, self.outlets, day.isoformat())
        return {**summary, "day": day.isoformat()}


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
            context["outlet_events"][outlet].extra = {k: v for k, v in found.items() if k != "day"}
        key_outlets_by_day(context, self.outlets, found["day"])
        return int(found["significant"])
