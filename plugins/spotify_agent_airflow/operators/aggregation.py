"""Tasks of ``streaming_aggregation``: aggregate the run's day partition, then announce it once
the day is finished. The job is :func:`spotify_agent.analytics.streaming_aggregation.aggregate_listening`."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import StreamingAggregationConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import key_outlets_by_day, partition_day
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)


class AggregateListeningOperator(WarehouseOperator):
    """Extracts the day's plays (the run's partition key; ``day`` without one) from the
    warehouse to a temporary Parquet extract, aggregates them, replaces the day's rows (its
    partial while the day is not over), quarantines the plays set aside, audits the counts."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.analytics.streaming_aggregation import aggregate_listening
        from spotify_agent.maintenance.erasure import erased_among
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring

        conf = read_conf(context, StreamingAggregationConf)
        aggregation = aggregate_listening(
            self.warehouse_engine(),
            partition_day(context, conf.day),
            attempt_of(context),
            partial(erased_among, key=erasure_keyring()),
        )
        log.info("%s", aggregation.summary_line())
        return aggregation.as_dict()  # announce_day reads its kind


class AnnounceDayOperator(BaseOperator):
    """Updates the ``LISTENING_AGGREGATES`` Asset when the run wrote a finished day (the event
    carries the run's partition key); skipped for a day so far, so its consumers run on
    finished days only."""

    def __init__(self, *, aggregate_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aggregate_task_id = aggregate_task_id

    def execute(self, context: Any) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        written = context["ti"].xcom_pull(task_ids=self.aggregate_task_id) or {}
        if written.get("kind") != "day":
            raise AirflowSkipException("the day so far: the day is not finished")
        day = str(written["period_start"])[:10]
        key_outlets_by_day(context, self.outlets, day)
        return day
