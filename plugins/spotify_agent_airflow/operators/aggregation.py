"""Tasks of ``streaming_aggregation``: aggregate the run's period, then announce a finished day.
The job is :func:`spotify_agent.analytics.streaming_aggregation.aggregate_listening`."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import StreamingAggregationConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end
from spotify_agent_airflow.operators.common import WarehouseOperator, progress_every_s

log = logging.getLogger(__name__)


class AggregateListeningOperator(WarehouseOperator):
    """Extracts the period's plays from the warehouse to a temporary Parquet extract, aggregates
    them (``aggregate_day``), replaces the period's rows, quarantines the plays set aside,
    audits the counts."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.analytics.streaming_aggregation import aggregate_listening
        from spotify_agent.maintenance.erasure import erased_among
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring

        conf = read_conf(context, StreamingAggregationConf)
        engine = self.warehouse_engine()
        erased = partial(erased_among, key=erasure_keyring())
        aggregation = aggregate_listening(
            engine,
            interval_end(context),
            conf,
            attempt_of(context),
            erased,
            every_s=progress_every_s(),
        )
        log.info("%s", aggregation.summary_line())
        # What announce_day reads: the finished day written, if any.
        return aggregation.announced.as_dict()


class AnnounceDayOperator(BaseOperator):
    """Updates the ``LISTENING_AGGREGATES`` Asset when the run wrote a finished day; skipped for
    the hourly partials, so Asset-scheduled consumers run once a day."""

    def __init__(self, *, aggregate_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aggregate_task_id = aggregate_task_id

    def execute(self, context: Any) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        written = context["ti"].xcom_pull(task_ids=self.aggregate_task_id) or {}
        if written.get("kind") != "day":
            raise AirflowSkipException("an hourly partial: the day is not finished")
        day = str(written["period_start"])[:10]
        # Consumers (trend_detection) read which day is finished from the event.
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"day": day}
        return day
