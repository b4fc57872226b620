"""Typed run conf: one pydantic model per DAG, the single source of its Params and its validation.

The DAG's Params (the UI form and the REST API's trigger-time check) are generated from the model,
and the task validates the conf again with the same model, so a backend that skips the UI still
meets the same rules and gets an error naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from spotify_agent.core.trace import TRACE_ID_PATTERN, is_valid_trace_id

# An Airflow connection id, as the run confs that name one accept it.
CONN_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"
ConnId = Annotated[str, StringConstraints(pattern=CONN_ID_PATTERN)]


def _day_at_most(days_before_today: int, problem: str) -> Callable[[date | None], date | None]:
    """A check refusing a day later than ``days_before_today`` days before today (UTC)."""

    def check(value: date | None) -> date | None:
        latest = datetime.now(UTC).date() - timedelta(days=days_before_today)
        if value is not None and value > latest:
            raise ValueError(f"{value} {problem}")
        return value

    return check


# Optional UTC days (YYYY-MM-DD) a run is asked to work on. A finished day is yesterday at the
# latest (its plays are all in); up to today allows today too, as an exclusive end (plays before
# it).
FinishedDay = Annotated[
    date | None, AfterValidator(_day_at_most(1, "is not a finished UTC day yet"))
]
UpToToday = Annotated[
    date | None,
    AfterValidator(_day_at_most(0, "is in the future: its plays have not all happened")),
]


def all_by_default(choices: tuple[str, ...], *, description: str) -> Any:
    """A list field choosing one or more of ``choices``: all of them when not given."""
    return Field(default_factory=lambda: list(choices), min_length=1, description=description)


class InvalidRunConf(ValueError):
    """Run conf that does not match its DAG's model; the message names every bad field."""

    def __init__(self, model_name: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid run conf for {model_name}: " + "; ".join(problems))


class RunConf(BaseModel):
    """Fields every DAG accepts. Subclasses add their own; unknown keys are refused."""

    # NaN and infinities pass JSON Schema's bounds (every comparison with NaN is false), so the
    # Params let them through; the model refuses them, in any field (see parse).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    trace_id: str | None = Field(
        default=None,
        pattern=TRACE_ID_PATTERN,
        description=(
            "Trace id of the caller (32 lowercase hex digits, W3C format). "
            "Leave empty to derive one from the run id."
        ),
    )

    @field_validator("trace_id")
    @classmethod
    def _not_all_zero(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_trace_id(value):
            raise ValueError("must be 32 lowercase hex digits, not all zero")
        return value

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        """Validate ``raw`` (the run's params merged with its conf) or raise :class:`InvalidRunConf`."""
        # Blank trigger-form fields come as "" or null: both mean "not given" (the default).
        cleaned = {key: value for key, value in raw.items() if value != "" and value is not None}
        non_finite = non_finite_fields(cleaned)
        if non_finite:
            raise InvalidRunConf(cls.__name__, [f"{path}: {NOT_FINITE}" for path in non_finite])
        try:
            return cls.model_validate(cleaned)
        except ValidationError as error:
            raise InvalidRunConf(cls.__name__, describe_errors(error)) from None


NOT_FINITE = "must be a finite number, not NaN or an infinity"


def non_finite_fields(value: Any, path: str = "") -> list[str]:
    """The paths (``a.b[2]``) of NaN and infinite floats anywhere in ``value``."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "<conf>"]
    if isinstance(value, Mapping):
        return [
            found
            for key, item in value.items()
            for found in non_finite_fields(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list | tuple):
        return [
            found
            for index, item in enumerate(value)
            for found in non_finite_fields(item, f"{path}[{index}]")
        ]
    return []


def describe_errors(error: ValidationError, *, show_input: bool = True) -> list[str]:
    """One line per problem, each naming the field path, e.g. ``components[1]: ...``.

    ``show_input=False`` names only the type of what was given: for payloads, whose values may
    be personal or megabytes long and are kept beside the reason anyway.
    """
    lines = []
    for item in error.errors(include_url=False):
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        given = item.get("input")
        got = repr(given) if show_input else type(given).__name__
        lines.append(
            f"{path or ('<conf>' if show_input else '<payload>')}: {item['msg']} (got {got})"
        )
    return lines


def field_schemas(model: type[RunConf]) -> dict[str, dict[str, Any]]:
    """JSON Schema of each field, flattened for Airflow Params.

    ``X | None`` becomes ``{"type": [X, "null"]}`` (the form Airflow's trigger form understands)
    instead of pydantic's ``anyOf``; ``$ref`` enums are inlined. A field with a default also
    admits ``null``: the form marks every other field required, and a ``null`` (a field left
    empty) means "not given" to :meth:`RunConf.parse`.
    """
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    definitions = schema.get("$defs", {})
    fields: dict[str, dict[str, Any]] = {}
    for name, prop in schema["properties"].items():
        prop = _inline_refs(prop, definitions)
        options = prop.pop("anyOf", None)
        if options is not None:
            non_null = [option for option in options if option.get("type") != "null"]
            if len(non_null) != 1:
                raise TypeError(f"{model.__name__}.{name}: only 'X | None' unions map to a Param")
            merged = dict(non_null[0])
            merged["type"] = [merged["type"], "null"]
            prop = {**merged, **prop}
        prop.pop("title", None)
        if name not in required:
            prop = _admitting_null(prop)
        fields[name] = prop
    return fields


def _admitting_null(prop: dict[str, Any]) -> dict[str, Any]:
    kinds = prop.get("type")
    if isinstance(kinds, str):
        prop = {**prop, "type": [kinds, "null"]}
    if "enum" in prop and None not in prop["enum"]:
        prop = {**prop, "enum": [*prop["enum"], None]}
    return prop


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = definitions[node["$ref"].rsplit("/", 1)[-1]]
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return {**_inline_refs(target, definitions), **rest}
        return {key: _inline_refs(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node
