"""Tasks of ``backup``: back up and verify the warehouse, then apply the retention policy."""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.maintenance.confs import BackupConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end

log = logging.getLogger(__name__)

DATABASES = ("warehouse", "airflow_metadata")


def backup_key(database: str, day: date, suffix: str) -> str:
    return f"backups/{database}/{day.isoformat()}/{database}.{suffix}"


class BackupDatabaseOperator(BaseOperator):
    """Dumps a database, stores it, restores the stored copy into a scratch database, compares.

    ``database`` is ``warehouse`` (the ``warehouse_default`` connection) or ``airflow_metadata``
    (the ``airflow_metadata_db`` connection; skipped without one). Records go to the warehouse.
    """

    def __init__(
        self,
        *,
        database: str = "warehouse",
        warehouse_conn_id: str = "warehouse_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if database not in DATABASES:
            raise ValueError(f"database must be one of {DATABASES}, not {database!r}")
        self.database = database
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from spotify_agent.core.objects import ensure_parent
        from spotify_agent.maintenance.backup import (
            BackupFailed,
            make_backup,
            shrinkage_pct,
            total_rows,
            upload,
            verify,
        )
        from spotify_agent.maintenance.backup_store import (
            BackupRecord,
            erasure_log_position,
            previous_verified_rows,
            record_backup,
            write_backup_manifest,
        )
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.metadata import metadata_db_url, skip_reason
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, BackupConf)
        ref = run_ref(context)
        day = interval_end(context).date()
        hook = WarehouseHook(self.warehouse_conn_id)
        source = hook.url if self.database == "warehouse" else metadata_db_url()
        if source is None:
            raise AirflowSkipException(skip_reason("the metadata DB backup"))
        database = self.database
        with tempfile.TemporaryDirectory(prefix="backup-") as workdir:
            local = make_backup(source, Path(workdir))
            key = backup_key(database, day, local.suffix)
            stored = object_store_root() / key
            ensure_parent(stored)
            size, sha256 = upload(local.path, stored)
        rows = total_rows(local.tables)
        status, detail = "verified", ""
        try:
            verify(stored, suffix=local.suffix, sha256=sha256, expected=local.tables, url=source)
        except BackupFailed as error:
            status, detail = "failed", str(error)

        now = datetime.now(UTC)
        record = BackupRecord(database, day, key, size, sha256, local.tables, status, detail)
        with hook.get_engine().begin() as connection:
            previous = previous_verified_rows(connection, database, before=day)
            record_backup(connection, record, run_id=ref.run_id, trace_id=ref.trace_id, at=now)
            # Beside the dump, so a restore needs nothing but the object store.
            write_backup_manifest(
                object_store_root(),
                record,
                run_id=ref.run_id,
                trace_id=ref.trace_id,
                at=now,
                erasure_log=erasure_log_position(connection) if database == "warehouse" else None,
            )
            counts = {"size_bytes": size, "rows": rows, "tables": len(local.tables)}
            audit_action(
                connection,
                context,
                f"backup_{status}",
                outcome=status,
                counts=counts,
                entity_type="backup",
                entity_key=f"{database}:{day.isoformat()}",
                detail=detail or key,
            )
        log.info(
            "%s backup %s: %s, %d bytes, %d rows of data in %d tables",
            database,
            key,
            status,
            size,
            rows,
            len(local.tables),
        )
        if status == "failed":
            # Retried: a new dump and a new verification (the day's object is replaced).
            raise BackupFailed(f"backup {key} failed verification: {detail}")
        if rows == 0:
            raise AirflowFailException(f"backup {key} is empty: the {database} holds no rows")
        # The metadata DB shrinks by design when log_rotation cleans it: only the warehouse is held
        # to the shrink limit.
        shrink = shrinkage_pct(previous, rows) if database == "warehouse" else None
        if shrink is not None and shrink > conf.max_shrink_pct:
            raise AirflowFailException(
                f"backup {key} holds {rows} rows, {shrink:.1f}% fewer than the previous verified "
                f"backup's {previous} (max_shrink_pct {conf.max_shrink_pct:g}); it is stored and "
                "verified, check what deleted the data"
            )
        return {"object_key": key, **counts}


class ApplyRetentionOperator(BaseOperator):
    """Deletes the backups the policy no longer keeps (never the newest verified one)."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, BackupConf)
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        totals = {"kept": 0, "deleted": 0}
        for database in DATABASES:
            kept, deleted = self._apply(context, engine, database, conf)
            totals["kept"] += kept
            totals["deleted"] += deleted
        return totals

    def _apply(self, context: Any, engine: Any, database: str, conf: BackupConf) -> tuple[int, int]:
        from spotify_agent.maintenance.backup import to_delete
        from spotify_agent.maintenance.backup_manifest import manifest_key
        from spotify_agent.maintenance.backup_store import mark_deleted, stored_backups
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.object_store import object_store_root

        with engine.connect() as connection:
            stored = stored_backups(connection, database)
        doomed = to_delete(
            [backup for backup, _ in stored.values()],
            daily=conf.keep_daily,
            weekly=conf.keep_weekly,
            monthly=conf.keep_monthly,
        )
        root = object_store_root()
        for day in doomed:
            # The manifest first: a dump without one is never offered for a restore.
            for path in (root / manifest_key(database, day), root / stored[day][1]):
                if path.exists():
                    path.unlink()
        with engine.begin() as connection:
            deleted = mark_deleted(connection, database, doomed)
            if doomed:
                audit_action(
                    connection,
                    context,
                    "backups_deleted",
                    counts={"backups": deleted},
                    entity_type="backup",
                    entity_key=database,
                    detail=", ".join(day.isoformat() for day in doomed),
                )
        kept = len(stored) - len(doomed)
        log.info("%s retention: %d kept, %d deleted %s", database, kept, len(doomed), doomed)
        return kept, len(doomed)
