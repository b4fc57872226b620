"""Run conf of the maintenance DAGs that take more than the health check's (light: parse time)."""

from __future__ import annotations

from pydantic import Field

from spotify_agent.core.run_conf import RunConf


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
