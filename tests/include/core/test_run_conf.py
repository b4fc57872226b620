from __future__ import annotations

from typing import Literal

import jsonschema
import pytest
from pydantic import Field

from spotify_agent.core.run_conf import InvalidRunConf, RunConf, field_schemas


class ExampleConf(RunConf):
    components: list[Literal["warehouse", "cache"]] = Field(
        default_factory=lambda: ["warehouse", "cache"], min_length=1, description="what to check"
    )
    window_days: int = Field(default=7, ge=1, le=90)
    note: str | None = None


def test_parse_applies_defaults_and_keeps_given_values() -> None:
    conf = ExampleConf.parse({"window_days": 30})
    assert conf.window_days == 30
    assert conf.components == ["warehouse", "cache"]
    assert conf.trace_id is None


def test_parse_names_every_bad_field() -> None:
    with pytest.raises(InvalidRunConf) as caught:
        ExampleConf.parse(
            {
                "components": ["warehouse", "disk"],
                "window_days": 0,
                "trace_id": "XYZ",
                "colour": "red",
            }
        )
    message = str(caught.value)
    assert "components[1]" in message and "'disk'" in message
    assert "window_days" in message
    assert "trace_id" in message
    assert "colour: Extra inputs are not permitted" in message
    assert len(caught.value.problems) == 4


def test_blank_form_fields_mean_not_given() -> None:
    assert ExampleConf.parse({"trace_id": "", "note": ""}).note is None
    # A field left empty in the trigger form comes as null: the default, not an error.
    conf = ExampleConf.parse({"components": None, "window_days": None, "note": None})
    assert (conf.components, conf.window_days) == (["warehouse", "cache"], 7)


class RequiredConf(RunConf):
    playlist_id: str = Field(description="the playlist")
    period: Literal["daily", "weekly"] = Field("daily", description="which report")


def test_only_fields_without_a_default_are_required_in_the_trigger_form() -> None:
    # Airflow's form marks a Param required unless its type admits null.
    optional, required = field_schemas(ExampleConf), field_schemas(RequiredConf)

    assert optional["components"]["type"] == ["array", "null"]
    assert optional["window_days"]["type"] == ["integer", "null"]
    assert required["playlist_id"]["type"] == "string"
    # an optional choice admits null among its choices too, or the schema would refuse it
    assert required["period"]["enum"] == ["daily", "weekly", None]
    jsonschema.validate(None, required["period"])
    with pytest.raises(InvalidRunConf, match="playlist_id"):
        RequiredConf.parse({"playlist_id": None})


def test_field_schemas_accept_and_refuse_what_the_model_does() -> None:
    schemas = field_schemas(ExampleConf)
    assert set(schemas) == {"trace_id", "components", "window_days", "note"}
    assert schemas["note"]["type"] == ["string", "null"]
    assert schemas["trace_id"]["type"] == ["string", "null"]
    good = {"components": ["cache"], "window_days": 90, "note": None, "trace_id": "a" * 32}
    bad = {"components": ["disk"], "window_days": 91, "note": 3, "trace_id": "A" * 32}
    for name, schema in schemas.items():
        jsonschema.validate(good[name], schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad[name], schema)


class ThresholdConf(RunConf):
    # No bounds: nothing but the finiteness rule stands between NaN and the job.
    threshold: float = 1.0
    weights: dict[str, float] = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": float("inf")}, "threshold"),
        ({"weights": {"a": 1.0, "b": float("-inf")}}, "weights.b"),
    ],
)
def test_nan_and_infinities_are_refused_naming_the_field(raw: dict, field: str) -> None:
    with pytest.raises(InvalidRunConf, match=rf"{field}: must be a finite number"):
        ThresholdConf.parse(raw)
    assert ThresholdConf.parse({"threshold": 2.5}).threshold == 2.5


def test_params_let_nan_through_so_the_model_must_refuse_it() -> None:
    # Why the model's rule is needed: JSON Schema's bounds cannot say "finite".
    schema = {"type": "number", "minimum": 2.0, "maximum": 50.0}
    jsonschema.validate(float("nan"), schema)
    from spotify_agent.analytics.confs import TrendDetectionConf

    with pytest.raises(InvalidRunConf, match="z_threshold: must be a finite number"):
        TrendDetectionConf.parse({"z_threshold": float("nan")})
