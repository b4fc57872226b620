from __future__ import annotations

import pytest

from spotify_agent.core.trace import (
    InvalidTraceId,
    derive_trace_id,
    resolve_trace_id,
    run_trace_id,
)


def test_derived_trace_id_is_stable_per_run_and_distinct_between_runs() -> None:
    first = derive_trace_id("health_check", "manual__2026-11-26T00:00:00+00:00")
    assert first == derive_trace_id("health_check", "manual__2026-11-26T00:00:00+00:00")
    assert first != derive_trace_id("health_check", "manual__2026-11-26T00:10:00+00:00")
    assert first != derive_trace_id("backup", "manual__2026-11-26T00:00:00+00:00")
    assert len(first) == 32 and int(first, 16) > 0


def test_caller_trace_id_wins_over_derived_one() -> None:
    given = "4bf92f3577b34da6a3ce929d0e0e4736"  # pragma: allowlist secret
    assert resolve_trace_id(given, dag_id="d", run_id="r") == given
    assert resolve_trace_id(None, dag_id="d", run_id="r") == derive_trace_id("d", "r")
    assert resolve_trace_id("", dag_id="d", run_id="r") == derive_trace_id("d", "r")


@pytest.mark.parametrize(
    "bad",
    [
        "4BF92F3577B34DA6A3CE929D0E0E4736",  # pragma: allowlist secret
        "4bf92f35",
        "0" * 32,
        "g" * 32,
        "4bf92f3577b34da6a3ce929d0e0e4736 ",
    ],
)
def test_malformed_trace_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidTraceId, match="trace_id"):
        resolve_trace_id(bad, dag_id="d", run_id="r")


@pytest.mark.parametrize("conf_value", [None, "", "0" * 32, "4bf92f35", 42, ["x"]])
def test_a_run_whose_conf_has_no_valid_trace_id_carries_the_derived_one(conf_value) -> None:
    # A refused conf still gets audited and paged under one id: the run's derived one.
    assert run_trace_id(conf_value, dag_id="d", run_id="r") == derive_trace_id("d", "r")


def test_a_run_carries_the_trace_id_its_caller_gave() -> None:
    given = "4bf92f3577b34da6a3ce929d0e0e4736"  # pragma: allowlist secret
    assert run_trace_id(given, dag_id="d", run_id="r") == given
