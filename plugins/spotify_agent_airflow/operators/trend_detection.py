"""Task of ``trend_detection``: find the day's trends, replace its rows, announce the significant."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import TrendDetectionConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.analytics import days_asked_for

log = logging.getLogger(__name__)
# The significant trends an Asset event names (the table has them all).
EVENT_TRENDS = 20


class DetectTrendsOperator(BaseOperator):
    """Detects artist and track trends for each day to look at (the conf's ``day``, else the
    days the triggering events announce, else the latest aggregated day), replaces
    each day's ``listening_trends`` rows in one transaction with its audit row, and puts the
    significant ones in the extra of its outlet's Asset event (the day's trends, for reporting)."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from dataclasses import replace

        from spotify_agent.analytics.trends import TrendRules
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, TrendDetectionConf)
        rules = replace(TrendRules(), min_plays=conf.min_plays, z_threshold=conf.z_threshold)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        days = days_asked_for(context, conf.day, engine)
        results = [self._detect(context, engine, day, rules) for day in days]
        significant = [t for result in results for t in result.pop("significant_trends")]
        significant.sort(key=lambda t: (-t["score"], t["entity_id"]))
        summary = {
            "days": [day.isoformat() for day in days],
            "trends": sum(result["trends"] for result in results),
            "significant": len(significant),
            "top": significant[:EVENT_TRENDS],
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = summary
        return summary

    def _detect(self, context: Any, engine: Any, day: date, rules: Any) -> dict[str, Any]:
        from spotify_agent.analytics.trend_store import aggregated_days, daily_plays, replace_trends
        from spotify_agent.analytics.trends import baseline_window, detect_trends
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref

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
        if day not in days:
            outcome, detail = "skipped", f"{day} has no finished aggregates"
        elif history < rules.min_history_days:
            outcome = "skipped"
            detail = f"{history} aggregated baseline days, {rules.min_history_days} needed"
        else:
            outcome, detail = "done", None
        counts: dict[str, int] = {"baseline_days": history, "trends": len(trends)}
        for trend in trends:
            name = f"{trend.kind}_{trend.entity_type}s"
            counts[name] = counts.get(name, 0) + 1
        counts["significant"] = sum(trend.significant for trend in trends)
        ref = run_ref(context)
        with engine.begin() as connection:
            replace_trends(
                connection,
                day,
                trends,
                run_id=ref.run_id,
                trace_id=ref.trace_id,
                at=datetime.now(UTC),
            )
            audit_action(
                connection,
                context,
                "trends_detected",
                outcome=outcome,
                counts=counts,
                entity_type="day",
                entity_key=day.isoformat(),
                detail=detail,
            )
        log.info("%s: %s%s", day, counts, f" ({detail})" if detail else "")
        return {
            **counts,
            "significant_trends": [
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
                for t in trends
                if t.significant
            ],
        }


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
