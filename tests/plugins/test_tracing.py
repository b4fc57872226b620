"""Traces: each task attempt's span reaches a real OTLP/HTTP endpoint in the run's own trace."""

from __future__ import annotations

import json

from tests.plugins.test_retry_policy import FIXTURES
from tests.receivers import run_otlp_receiver


def _attributes(span) -> dict[str, object]:
    values = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = (
            value.string_value if value.HasField("string_value") else value.int_value
        )
    return values


def test_every_attempt_is_a_span_in_the_callers_trace(airflow_home) -> None:
    trace_id = "6" * 31 + "7"
    with run_otlp_receiver() as otlp:
        result = airflow_home.airflow(
            "dags",
            "test",
            "retry_policy_probe",
            "--conf",
            json.dumps({"trace_id": trace_id}),
            extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURES), **otlp.env()},
        )
    assert result.returncode == 0, result.stdout[-3000:]
    ours = [span for span in otlp.spans if span.name == "task retry_policy_probe.flaky"]
    # The probe fails its first attempt (a 429) and succeeds on the second: two spans.
    assert len(ours) == 2, [span.name for span in otlp.spans]
    assert {span.trace_id.hex() for span in ours} == {trace_id}
    first, second = sorted(ours, key=lambda span: _attributes(span)["airflow.try_number"])
    assert _attributes(first)["airflow.outcome"] == "up_for_retry"
    assert first.status.code == 2  # ERROR
    assert _attributes(second)["airflow.outcome"] == "success"
    assert _attributes(second)["airflow.run_id"].startswith("manual__")
    assert first.parent_span_id == second.parent_span_id  # the run's parent
    assert otlp.resources[0]["service.name"] == "spotify-agent-airflow"


def test_spotify_calls_and_warehouse_statements_are_child_spans_of_the_task(airflow_home) -> None:
    from spotify_emulator.testing import run_emulator

    trace_id = "8" * 32
    with run_emulator() as spotify, run_otlp_receiver() as otlp:
        result = airflow_home.airflow(
            "dags",
            "test",
            "health_check",
            "--conf",
            json.dumps({"components": ["spotify"], "trace_id": trace_id}),
            extra_env={
                "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(spotify.connection()),
                **otlp.env(),
            },
        )
    assert result.returncode == 0, result.stdout[-3000:]
    (task,) = [span for span in otlp.spans if span.name == "task health_check.check_components"]
    calls = [span for span in otlp.spans if span.parent_span_id == task.span_id]
    assert calls, [span.name for span in otlp.spans]
    assert {span.trace_id.hex() for span in [task, *calls]} == {trace_id}
    assert any(span.name.startswith("GET /v1/") for span in calls), [s.name for s in calls]
    assert all(span.kind == 3 for span in calls)  # CLIENT
    # The task's writes to the (SQLite) warehouse, statement text without the values.
    inserts = [span for span in calls if span.name == "INSERT sqlite"]
    assert inserts, [span.name for span in calls]
    statements = [_attributes(span)["db.query.text"] for span in inserts]
    assert any("INSERT INTO health_checks" in text for text in statements), statements
    assert all(_attributes(span)["db.system"] == "sqlite" for span in inserts)
