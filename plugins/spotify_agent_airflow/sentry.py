"""Sentry events of a task, tagged with the run and its trace id, scrubbed of known secrets.

Airflow 3.3 initialises sentry-sdk in the task process when ``[sentry] sentry_on`` is true
(DSN from ``[sentry] sentry_dsn``) and tags events with dag, task, try number and dates; it does
not tag the run or our trace id, and its ``before_send`` option is passed to Sentry unimported
(every event is then dropped), so both are done here, on the task's own Sentry scope, from the
audit listener's ``on_task_instance_running``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentry_sdk._types import Event

log = logging.getLogger(__name__)


def enrich_task_scope(context: Any, trace_id: str) -> None:
    """Tag the current Sentry scope and scrub its events; nothing when Sentry is off."""
    try:
        import sentry_sdk
    except ImportError:
        return
    if not sentry_sdk.is_initialized():
        return
    ti = context["ti"]
    scope = sentry_sdk.get_current_scope()
    scope.set_tag("trace_id", trace_id)
    scope.set_tag("run_id", ti.run_id)
    scope.set_tag("map_index", ti.map_index if ti.map_index is not None else -1)
    scope.add_event_processor(scrub_event)


def scrub_event(event: Event, hint: dict[str, Any]) -> Event:
    """Mask every secret Airflow's masker knows of (connection passwords, sensitive variables)
    anywhere in the event: exception messages, local variables, breadcrumbs, extra data."""
    # The task SDK's masker: 3.3 has no public ``redact``.
    from airflow.sdk._shared.secrets_masker import redact

    scrubbed: Event = redact(event)  # type: ignore[assignment]
    return scrubbed
