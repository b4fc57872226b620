"""How often the long jobs log their progress is one Airflow option, 30 s unless it is set."""

from __future__ import annotations

import pytest

from spotify_agent_airflow.operators.common import progress_every_s

OPTION = "AIRFLOW__SPOTIFY_AGENT__PROGRESS_EVERY_S"


def test_the_progress_interval_is_30_s_unless_the_option_says_otherwise(monkeypatch) -> None:
    monkeypatch.delenv(OPTION, raising=False)
    assert progress_every_s() == 30.0
    monkeypatch.setenv(OPTION, "5")
    assert progress_every_s() == 5.0
    monkeypatch.setenv(OPTION, "0")  # every step
    assert progress_every_s() == 0.0


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_negative_or_meaningless_interval_is_refused_naming_the_option(
    monkeypatch, value
) -> None:
    monkeypatch.setenv(OPTION, value)
    with pytest.raises(ValueError, match=r"\[spotify_agent\] progress_every_s"):
        progress_every_s()
