"""Run conf of the maintenance DAGs (light on purpose: DAG files import these for their Params)."""

from __future__ import annotations

from typing import Any, Literal, Self, get_args

from pydantic import Field, model_validator

from spotify_agent.core.run_conf import RunConf, all_by_default

Component = Literal[
    "warehouse",
    "object_store",
    "cache",
    "metadata_db",
    "scheduler",
    "celery_workers",
    "spotify",
    "backups",
    "disk_space",
    "erasure_keys",
]
ALL_COMPONENTS: tuple[Component, ...] = get_args(Component)


class HealthCheckConf(RunConf):
    """Run conf of the ``health_check`` DAG."""

    components: list[Component] = all_by_default(
        ALL_COMPONENTS, description="Components to check. Default: all of them."
    )


class BackupConf(RunConf):
    """Run conf of the ``backup`` DAG."""

    keep_daily: int = Field(default=7, ge=1, le=366, description="Newest verified backups kept.")
    keep_weekly: int = Field(
        default=4, ge=0, le=520, description="Weeks whose newest verified backup is kept."
    )
    keep_monthly: int = Field(
        default=6, ge=0, le=240, description="Months whose newest verified backup is kept."
    )
    max_shrink_pct: float = Field(
        default=20.0,
        gt=0,
        le=100,
        description=(
            "Fail the run (after storing the backup) when it holds this many percent fewer rows "
            "than the previous verified backup; an empty warehouse always fails."
        ),
    )


class LogRotationConf(RunConf):
    """Run conf of the ``log_rotation`` DAG."""

    compress_after_days: int = Field(
        default=3, ge=1, le=365, description="Gzip and archive task logs older than this."
    )
    keep_local_days: int = Field(
        default=14,
        ge=1,
        le=3650,
        description="Delete local archives older than this (once the object store holds them).",
    )
    metadata_retention_days: int = Field(
        default=90,
        ge=7,
        le=3650,
        description="`airflow db clean` removes metadata (runs, task instances, logs, XCom) older than this.",
    )
    dry_run: bool = Field(
        default=False,
        description="Only report what `airflow db clean` would remove (log files rotate anyway).",
    )

    @model_validator(mode="after")
    def _delete_after_compress(self) -> Self:
        if self.keep_local_days < self.compress_after_days:
            raise ValueError("keep_local_days: must not be shorter than compress_after_days")
        return self


REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"


class GdprErasureConf(RunConf):
    """Run conf of the ``gdpr_erasure`` DAG: a reference to a recorded request, never the id."""

    request_id: str | None = Field(
        default=None,
        pattern=REQUEST_ID_PATTERN,
        description=(
            "The erasure request to process first, as recorded in the warehouse's "
            "erasure_requests by the backend or `request-erasure` (docs/OPERATIONS.md). "
            "Empty: process the requests waiting, oldest first."
        ),
    )
    max_requests: int = Field(
        default=50, ge=1, le=500, description="Requests processed by one run, oldest first."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_raw_id(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and raw.get("user_id") is not None:
            raise ValueError(
                "user_id: a run conf must not carry the user's id (every Viewer can read run "
                "confs); record the request in the warehouse and pass its request_id "
                "(docs/OPERATIONS.md, 'Submit an erasure')"
            )
        return raw
