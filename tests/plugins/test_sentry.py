"""Sentry: a failing task's error reaches a real envelope endpoint on loopback, tagged with the
run and trace id, with secrets Airflow knows of masked."""

from __future__ import annotations

import json

from tests.plugins.test_retry_policy import FIXTURES
from tests.receivers import run_sentry_receiver


def test_a_failing_tasks_error_arrives_tagged_and_scrubbed(airflow_home) -> None:
    secret = "s3cr3t-sentry-password-5678"  # pragma: allowlist secret
    trace_id = "5" * 32
    with run_sentry_receiver() as sentry:
        result = airflow_home.airflow(
            "dags",
            "test",
            "retry_policy_probe",
            "--conf",
            json.dumps({"mode": "leaky", "trace_id": trace_id}),
            extra_env={
                "AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURES),
                "AIRFLOW_CONN_ALERT_PROBE_SECRET": json.dumps(
                    {"conn_type": "generic", "password": secret}
                ),
                **sentry.env(),
            },
        )
    assert result.returncode != 0
    assert sentry.events, "no event reached the Sentry endpoint"
    (event,) = [e for e in sentry.events if e.get("exception")]
    tags = event["tags"]
    assert (tags["dag_id"], tags["task_id"]) == ("retry_policy_probe", "flaky")
    assert tags["trace_id"] == trace_id
    assert tags["run_id"].startswith("manual__")
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "PermanentFailure"
    assert exception["value"] == "login refused for password ***"
    assert not any(secret.encode() in raw for raw in sentry.raw)
