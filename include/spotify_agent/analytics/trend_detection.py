"""The ``trend_detection`` job: for each day asked for, detect the artists' and tracks' trends
against the trailing baseline, replace the day's ``listening_trends`` rows and audit the day, in
one transaction per day; then sum up the significant ones for the Asset event.

Idempotent: a day's rows are replaced as a whole, so a re-run writes the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from spotify_agent.analytics.confs import TrendDetectionConf
from spotify_agent.analytics.trend_store import aggregated_days, daily_plays, replace_trends
from spotify_agent.analytics.trends import Trend, TrendRules, baseline_window, detect_trends
from spotify_agent.core.audit import Attempt
from spotify_agent.core.progress import rounded

# The significant trends an Asset event names (the table has them all).
EVENT_TRENDS = 20


@dataclass(frozen=True)
class DayTrends:
    """What one day's detection found and recorded."""

    day: date
    outcome: str  # "done", or "skipped" (no finished aggregates, too little history)
    detail: str | None
    counts: dict[str, int]
    significant: tuple[Trend, ...]

    def summary_line(self) -> str:
        significant = self.counts["significant"]
        said = f"{self.day}: {self.counts['trends']} trends, {significant} significant"
        return f"{said} ({self.detail})" if self.detail else said


def rules_for(conf: TrendDetectionConf) -> TrendRules:
    return replace(TrendRules(), min_plays=conf.min_plays, z_threshold=conf.z_threshold)


def detect_listening_trends(
    engine: Engine,
    days: list[date],
    conf: TrendDetectionConf,
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> tuple[list[DayTrends], dict[str, Any]]:
    """Detect and store each day's trends; returns the days and the Asset event's summary."""
    rules = rules_for(conf)
    found = [detect_day_trends(engine, day, rules, attempt, now=now) for day in days]
    return found, event_summary(found)


def detect_day_trends(
    engine: Engine,
    day: date,
    rules: TrendRules,
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> DayTrends:
    with engine.connect() as connection:
        days = aggregated_days(connection, *baseline_window(day, rules))
        trends = [
            trend
            for entity_type in ("artist", "track")
            for trend in detect_trends(
                entity_type,
                daily_plays(connection, entity_type, day, rules),
                day=day,
                aggregated_days=days,
                rules=rules,
            )
        ]
    history = sum(1 for d in days if d < day)
    outcome, detail = _outcome(day, days, history, rules)
    counts = _counts(trends, history)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        replace_trends(
            connection, day, trends, run_id=attempt.run_id, trace_id=attempt.trace_id, at=at
        )
        attempt.record(
            connection,
            "trends_detected",
            outcome=outcome,
            counts=counts,
            entity_type="day",
            entity_key=day.isoformat(),
            detail=detail,
            at=at,
        )
    significant = tuple(trend for trend in trends if trend.significant)
    return DayTrends(day, outcome, detail, counts, significant)


def _outcome(
    day: date, days: list[date], history: int, rules: TrendRules
) -> tuple[str, str | None]:
    if day not in days:
        return "skipped", f"{day} has no finished aggregates"
    if history < rules.min_history_days:
        return "skipped", f"{history} aggregated baseline days, {rules.min_history_days} needed"
    return "done", None


def _counts(trends: list[Trend], history: int) -> dict[str, int]:
    counts: dict[str, int] = {"baseline_days": history, "trends": len(trends)}
    for trend in trends:
        name = f"{trend.kind}_{trend.entity_type}s"
        counts[name] = counts.get(name, 0) + 1
    counts["significant"] = sum(trend.significant for trend in trends)
    return counts


def event_summary(found: list[DayTrends]) -> dict[str, Any]:
    """The Asset event's extra (and the task's result): how many trends, and the strongest
    significant ones, their figures to 4 significant digits. Which day: the event's partition
    key."""
    strongest = sorted(
        ((result.day, t) for result in found for t in result.significant),
        key=lambda pair: (-pair[1].score, pair[1].entity_id),
    )
    return rounded(
        {
            "trends": sum(result.counts["trends"] for result in found),
            "significant": len(strongest),
            "top": [
                {
                    "day": day.isoformat(),
                    "entity_type": t.entity_type,
                    "entity_id": t.entity_id,
                    "kind": t.kind,
                    "plays": t.plays,
                    "score": t.score,
                    "robust_z": t.robust_z,
                    "wow_growth": t.wow_growth,
                }
                for day, t in strongest[:EVENT_TRENDS]
            ],
        }
    )
