"""Run conf of the analytics DAGs (light on purpose: DAG files import these for their Params)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from spotify_agent.core.run_conf import RunConf


class StreamingAggregationConf(RunConf):
    """Run conf of the ``streaming_aggregation`` DAG."""

    day: date | None = Field(
        default=None,
        description=(
            "Aggregate this finished UTC day again (YYYY-MM-DD). Default: the run's own period, "
            "the day that ended at the run's interval end (the midnight run), or today so far "
            "(every other hour)."
        ),
    )
