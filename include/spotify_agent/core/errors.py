"""Errors that tell the orchestrator how to retry, without depending on it.

Business code raises these; the project's Airflow retry policy
(``spotify_agent_airflow.retry.ProjectRetryPolicy``) turns them into "retry after N seconds" or
"fail now, do not retry" decisions.
"""

from __future__ import annotations


class RetryLater(Exception):  # noqa: N818 - it is an instruction, not only an error
    """A transient refusal with a known wait (e.g. HTTP 429 ``Retry-After``).

    Raised instead of sleeping when the wait is longer than a worker should block.
    """

    def __init__(self, retry_after_s: float, reason: str) -> None:
        self.retry_after_s = max(float(retry_after_s), 1.0)
        self.reason = reason
        super().__init__(f"{reason} (retry after {self.retry_after_s:.0f} s)")


class PermanentFailure(Exception):
    """An error retrying cannot fix (bad credentials, a 4xx from an API): fail fast with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
