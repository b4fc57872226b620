"""Run conf of the analytics DAGs (light on purpose: DAG files import these for their Params)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from spotify_agent.core.run_conf import FinishedDay, RunConf, UpToToday


class StreamingAggregationConf(RunConf):
    """Run conf of the ``streaming_aggregation`` DAG."""

    day: UpToToday = Field(
        default=None,
        description=(
            "Under airflow dags test or a trigger without a partition key: the UTC day "
            "(YYYY-MM-DD) to aggregate (today: the day so far). A run with a partition key (every scheduled run; REST: "
            "partition_key) aggregates that day; a different day here is refused."
        ),
    )


class TrendDetectionConf(RunConf):
    """Run conf of the ``trend_detection`` DAG."""

    day: FinishedDay = Field(
        default=None,
        description=(
            "Under airflow dags test or a trigger without a partition key: the aggregated UTC "
            "day (YYYY-MM-DD) to detect trends for. A run with a partition key (every "
            "scheduled run) looks at that day; a different day here is refused."
        ),
    )
    min_plays: int = Field(
        default=50,
        ge=1,
        le=1_000_000,
        description="Support: plays a day (today for rising, the baseline median for falling).",
    )
    z_threshold: float = Field(
        default=5.0,
        ge=2.0,
        le=50.0,
        description="Robust score (plays against the 28-day median, in MAD units) to report.",
    )


# Deliberately simple: an address with one @ and a dot in the domain; the SMTP server decides.
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")]


class ReportingConf(RunConf):
    """Run conf of the ``reporting`` and ``weekly_reporting`` DAGs."""

    day: FinishedDay = Field(
        default=None,
        description=(
            "Under airflow dags test or a trigger without a partition key: the finished UTC day "
            "(YYYY-MM-DD) to report on (weekly_reporting: a day of the ISO week). A run with a "
            "partition key reports on that day or week; a different one here is refused."
        ),
    )
    email_to: list[EmailAddress] = Field(
        default_factory=list,
        max_length=50,
        description=(
            "Send the reports to these addresses (through the smtp_reports connection). "
            "Default: the report_recipients variable (comma-separated), else no e-mail."
        ),
    )
    resend: bool = Field(
        default=False,
        description="E-mail a report again even if the same text already went to the same people.",
    )
