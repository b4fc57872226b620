from __future__ import annotations

import socket

import pytest

from spotify_agent.core.airflow_api import AirflowClient, UnsendableConf


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"z_threshold": float("nan")}, "z_threshold"),
        ({"limits": [1.0, float("inf")]}, r"limits\[1\]"),
    ],
)
def test_a_conf_json_cannot_carry_is_refused_before_anything_is_sent(
    conf: dict, field: str
) -> None:
    # Nothing listens on the port: a request would fail with a connection error, not this.
    with AirflowClient(
        f"http://127.0.0.1:{_closed_port()}", username="backend", password="x"
    ) as client:
        with pytest.raises(UnsendableConf, match=rf"{field}: must be a finite number"):
            client.trigger("trend_detection", conf, run_id="r-1")
