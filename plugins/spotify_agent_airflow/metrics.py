"""Business metrics from inside a task, sent where Airflow's own statsd metrics go.

On when ``[metrics] statsd_on`` is (``AIRFLOW__METRICS__STATSD_ON=True``), to the same
``statsd_host`` / ``statsd_port``; off otherwise. Metrics never fail a task: a send error is
logged and dropped, as statsd's UDP would drop it anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


def statsd_target() -> Any:
    from airflow.sdk import conf

    from spotify_agent.core.metrics import StatsdTarget

    if not conf.getboolean("metrics", "statsd_on", fallback=False):
        return None
    return StatsdTarget(
        host=conf.get("metrics", "statsd_host", fallback="localhost") or "localhost",
        port=conf.getint("metrics", "statsd_port", fallback=8125),
    )


def emit_action_metrics(
    context: Any,
    action: str,
    counts: Mapping[str, float],
    extra_tags: Mapping[str, str] | None = None,
) -> None:
    """``spotify_agent.<action>.<count>`` for each count, tagged with dag and task (and
    ``extra_tags``).

    Never with the run's trace id: a tag value per run is a Prometheus series per run. The trace
    id ties a run's logs, spans, Sentry events and audit rows together; metrics are per DAG and
    task.
    """
    from spotify_agent.core.metrics import metric_lines, send_lines

    target = statsd_target()
    if target is None or not counts:
        return
    ti = context["ti"]
    tags = {"dag": ti.dag_id, "task": ti.task_id}
    tags.update(extra_tags or {})
    try:
        send_lines(target, metric_lines(action, counts, tags))
    except OSError as error:
        log.warning("metrics for %s not sent: %s", action, error)
