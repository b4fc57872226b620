"""Run conf of the analytics DAGs (light on purpose: DAG files import these for their Params)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from spotify_agent.core.run_conf import FinishedDay, RunConf


class StreamingAggregationConf(RunConf):
    """Run conf of the ``streaming_aggregation`` DAG."""

    day: FinishedDay = Field(
        default=None,
        description=(
            "Aggregate this finished UTC day again (YYYY-MM-DD). Default: the run's own period: "
            "yesterday, finished, at 01:00 UTC (once the midnight ingest has landed); today so "
            "far every other hour."
        ),
    )


class TrendDetectionConf(RunConf):
    """Run conf of the ``trend_detection`` DAG."""

    day: FinishedDay = Field(
        default=None,
        description=(
            "Detect trends for this aggregated UTC day (YYYY-MM-DD). Default: the days whose "
            "aggregates triggered the run, else the latest aggregated day."
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
    """Run conf of the ``reporting`` DAG."""

    day: FinishedDay = Field(
        default=None,
        description=(
            "Report on this finished UTC day (YYYY-MM-DD), or on its ISO week. Default: the days "
            "whose trends triggered the run, else the latest aggregated day."
        ),
    )
    period: Literal["auto", "daily", "weekly"] = Field(
        default="auto",
        description=(
            "daily, weekly, or auto: the daily report, and the weekly one when the day is a "
            "Sunday (the ISO week is complete)."
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
