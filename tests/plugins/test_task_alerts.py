"""Task alerts: a task that fails for good pages PagerDuty once per task, its next success
resolves; proven on real task runs against a loopback PagerDuty receiver."""

from __future__ import annotations

import json

from tests.plugins.test_retry_policy import FIXTURES
from tests.receivers import run_pagerduty_receiver

KEY = "spotify-agent/task/retry_policy_probe/flaky"


def _run(airflow_home, conf: dict[str, str], env: dict[str, str]):
    return airflow_home.airflow(
        "dags",
        "test",
        "retry_policy_probe",
        "--conf",
        json.dumps(conf),
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURES), **env},
    )


def test_a_task_failing_for_good_triggers_and_its_next_success_resolves(airflow_home) -> None:
    with run_pagerduty_receiver() as pagerduty:
        env = {"AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(pagerduty.connection())}
        trace_id = "3" * 32
        failed = _run(airflow_home, {"trace_id": trace_id, "mode": "permanent"}, env)
        assert failed.returncode != 0
        (trigger,) = pagerduty.events
        assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", KEY)
        payload = trigger["payload"]
        assert payload["summary"] == (
            "retry_policy_probe.flaky failed: "
            "PermanentFailure: invalid_client: the Spotify secret was revoked"
        )
        assert (payload["group"], payload["component"]) == ("retry_policy_probe", "flaky")
        assert payload["custom_details"]["trace_id"] == trace_id
        assert payload["custom_details"]["try_number"] == 1

        # A retried attempt pages nobody; the success after it resolves the incident.
        recovered = _run(airflow_home, {"trace_id": "4" * 32}, env)
        assert recovered.returncode == 0, recovered.stdout[-3000:]
        assert pagerduty.by_key(KEY) == ["trigger", "resolve"]


def test_a_secret_in_the_error_does_not_reach_pagerduty(airflow_home) -> None:
    secret = "s3cr3t-probe-password-1234"  # pragma: allowlist secret
    with run_pagerduty_receiver() as pagerduty:
        env = {
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps(pagerduty.connection()),
            "AIRFLOW_CONN_ALERT_PROBE_SECRET": json.dumps(
                {"conn_type": "generic", "password": secret}
            ),
        }
        result = _run(airflow_home, {"mode": "leaky"}, env)
    assert result.returncode != 0
    (trigger,) = pagerduty.events
    assert trigger["payload"]["summary"].endswith("login refused for password ***")
    assert secret not in json.dumps(pagerduty.events)
