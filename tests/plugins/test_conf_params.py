from __future__ import annotations

import pytest
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, ParamValidationError

from spotify_agent.maintenance.confs import ALL_COMPONENTS, HealthCheckConf
from spotify_agent_airflow.conf import conf_params, read_conf


def test_params_carry_the_models_defaults_descriptions_and_rules() -> None:
    params = conf_params(HealthCheckConf)
    assert set(params) == {"trace_id", "components"}
    assert params["components"].value == list(ALL_COMPONENTS)
    assert params["components"].description == "Components to check. Default: all of them."
    assert params["trace_id"].value is None


@pytest.mark.parametrize(
    ("name", "bad"),
    [("components", ["disk"]), ("components", []), ("trace_id", "not-a-trace-id")],
)
def test_params_refuse_bad_values_before_a_run_starts(name: str, bad: object) -> None:
    param: Param = conf_params(HealthCheckConf)[name]
    with pytest.raises(ParamValidationError):
        param.resolve(bad)


def test_read_conf_fails_the_task_without_retry_and_names_the_field() -> None:
    context = {"params": {"components": ["cache"], "trace_id": None, "surprise": 1}}
    with pytest.raises(AirflowFailException, match="surprise: Extra inputs are not permitted"):
        read_conf(context, HealthCheckConf)
    assert read_conf({"params": {"components": ["cache"]}}, HealthCheckConf).components == ["cache"]


def test_nan_in_a_conf_fails_the_task_without_retry_and_names_the_field() -> None:
    from spotify_agent.analytics.confs import TrendDetectionConf

    # The Params accept it (JSON Schema cannot say "finite"); the first task's read_conf does not.
    conf_params(TrendDetectionConf)["z_threshold"].resolve(float("nan"))
    with pytest.raises(AirflowFailException, match="z_threshold: must be a finite number"):
        read_conf({"params": {"z_threshold": float("nan")}}, TrendDetectionConf)
