"""Tasks of ``streaming_aggregation``: aggregate the run's period, then announce a finished day."""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.analytics.confs import StreamingAggregationConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end

log = logging.getLogger(__name__)


class AggregateListeningOperator(BaseOperator):
    """Extracts the period's plays from the warehouse to a temporary Parquet extract, aggregates
    them (``aggregate_day``), replaces the period's rows, quarantines the plays set aside,
    audits the counts."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.analytics.store import missing_day, period_for
        from spotify_agent_airflow.hooks.erasure_key import erasure_keyring
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, StreamingAggregationConf)
        period = period_for(interval_end(context), conf.day)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            # Yesterday, when its 01:00 run was skipped or failed for good.
            late_day = missing_day(connection, period) if conf.day is None else None
        key = erasure_keyring()
        done = [self._aggregate(context, engine, late_day, key)] if late_day else []
        done.append(self._aggregate(context, engine, period, key))
        # What announce_day reads: the finished day written, if any.
        days = [d for d in done if d["kind"] == "day"]
        return days[-1] if days else done[-1]

    def _aggregate(self, context: Any, engine: Any, period: Any, key: Any) -> dict[str, Any]:
        from spotify_agent.analytics.store import (
            EXTRACT_PREFIX,
            aggregate_extract,
            clear_quarantine,
            extract,
            rejected_items,
            replace_period,
            sweep_stale_extracts,
        )
        from spotify_agent.core.quarantine import quarantine_items
        from spotify_agent.maintenance.erasure import erased_among
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref

        for stale in sweep_stale_extracts(Path(tempfile.gettempdir()), now=datetime.now(UTC)):
            log.warning("removed %s, an extract (listener ids) left by a killed task", stale)
        # The extract is Parquet on local disk, read back in streaming batches: a day of plays
        # never sits in memory as Python objects or whole string columns.
        with tempfile.TemporaryDirectory(prefix=EXTRACT_PREFIX) as folder:
            with engine.connect() as connection:
                data = extract(connection, period, Path(folder))
            now = datetime.now(UTC)
            result = aggregate_extract(data, period, now=now)
        ref = run_ref(context)
        with engine.begin() as connection:
            # In the write's transaction: an erasure that began after the extract must not get
            # the listener's rows written back.
            listeners_seen = {
                *result.tables["users"].column("user_id").to_pylist(),
                *(u for u in result.rejected.column("user_id").to_pylist() if u is not None),
            }
            erasing = erased_among(connection, listeners_seen, key=key)
            written = replace_period(
                connection,
                period,
                result,
                run_id=ref.run_id,
                trace_id=ref.trace_id,
                at=now,
                without=erasing,
            )
            quarantined = 0
            if period.kind == "day":  # a partial's bad plays are the day's to keep
                clear_quarantine(connection, period)
                quarantined = quarantine_items(
                    connection, rejected_items(result, period, without=erasing), run=ref, at=now
                )
            rejected = {f"rejected_{k}": v for k, v in result.rejected_counts.items() if v}
            counts = {
                "plays": result.plays,
                "erased_users_left_out": len(erasing),
                "rows_written": sum(written.values()),
                "quarantined": quarantined,
                **rejected,
                **{f"rows_{name}": rows for name, rows in written.items()},
            }
            audit_action(
                connection,
                context,
                "listening_aggregated",
                counts=counts,
                entity_type="period",
                entity_key=period.label,
            )
        log.info("%s: %s", period.label, counts)
        return {"kind": period.kind, "period_start": period.start.isoformat(), **counts}


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
