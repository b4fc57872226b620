"""Task of ``listening_days``: announce one UTC day of ``listening_events`` again, so its chain
(aggregation, trends, reports) runs for it."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.spotify.confs import ListeningDaysConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import key_outlets_by_day, partition_day

log = logging.getLogger(__name__)


class AnnounceListeningDayOperator(BaseOperator):
    """Updates its outlet (``listening_events``) for one UTC day, the run's partition key (the
    conf's ``day`` without one), so the day's aggregation, trends and reports run again. Reads
    and writes nothing itself: the day's plays are what the warehouse holds."""

    def execute(self, context: Any) -> str:
        conf = read_conf(context, ListeningDaysConf)
        day = partition_day(context, conf.day).isoformat()
        key_outlets_by_day(context, self.outlets, day)
        log.info("listening_events partition %s announced: its chain runs again", day)
        return day
