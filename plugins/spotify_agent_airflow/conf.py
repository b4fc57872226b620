"""Run conf <-> Airflow Params, both from the DAG's pydantic model."""

from __future__ import annotations

from typing import Any, TypeVar

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from spotify_agent.core.run_conf import InvalidRunConf, RunConf, field_schemas

ConfT = TypeVar("ConfT", bound=RunConf)


def conf_params(model: type[RunConf]) -> dict[str, Param]:
    """Params for the trigger form and the REST API's trigger-time check, generated from ``model``."""
    params: dict[str, Param] = {}
    for name, schema in field_schemas(model).items():
        schema.pop("default", None)
        description = schema.pop("description", None)
        default = model.model_fields[name].get_default(call_default_factory=True)
        params[name] = Param(default, description=description, **schema)
    return params


def read_conf(context: Any, model: type[ConfT]) -> ConfT:
    """The run's conf validated by ``model``. Bad conf fails the task at once, without retries."""
    try:
        return model.parse(dict(context["params"]))
    except InvalidRunConf as error:
        raise AirflowFailException(str(error)) from None
