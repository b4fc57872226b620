"""The retry policy every task gets from the shared DAG defaults.

``RetryLater`` retries after the wait the remote service asked for (instead of the task's backoff);
``PermanentFailure`` fails at once, keeping the remaining retries for faults that can pass, and
so does a database error retrying cannot fix (a database that does not exist, a refused login, a
missing table: ``spotify_agent.warehouse.errors``). Everything else follows the task's standard
retries with exponential backoff.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import RetryDecision, RetryPolicy

from spotify_agent.core.errors import PermanentFailure, RetryLater


class ProjectRetryPolicy(RetryPolicy):
    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Any = None,
    ) -> RetryDecision:
        if isinstance(exception, RetryLater):
            return RetryDecision.retry(
                delay=timedelta(seconds=exception.retry_after_s), reason=exception.reason
            )
        if isinstance(exception, PermanentFailure):
            return RetryDecision.fail(reason=exception.reason)
        if isinstance(exception, Exception):
            from spotify_agent.warehouse.errors import permanent_database_error

            reason = permanent_database_error(exception)
            if reason is not None:
                return RetryDecision.fail(reason=reason)
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {"__type": "ProjectRetryPolicy"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ProjectRetryPolicy:
        return cls()
