"""Run conf of the analytics DAGs (light on purpose: DAG files import these for their Params)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import Field, field_validator

from spotify_agent.core.run_conf import RunConf


class StreamingAggregationConf(RunConf):
    """Run conf of the ``streaming_aggregation`` DAG."""

    day: date | None = Field(
        default=None,
        description=(
            "Aggregate this finished UTC day again (YYYY-MM-DD). Default: the run's own period: "
            "yesterday, finished, at 01:00 UTC (once the midnight ingest has landed); today so "
            "far every other hour."
        ),
    )

    @field_validator("day")
    @classmethod
    def _finished(cls, value: date | None) -> date | None:
        if value is not None and value >= datetime.now(UTC).date():
            raise ValueError(f"{value} is not a finished UTC day yet")
        return value
