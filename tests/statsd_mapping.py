"""What Prometheus' statsd_exporter makes of a statsd line under monitoring/statsd_exporter.yml.

A faithful port of the parts of statsd_exporter (github.com/prometheus/statsd_exporter) that the
shipped mapping uses, so tests can ask "which Prometheus series does this line become?" without
the Go binary (no Debian package ships it):

- line parsing and DogStatsD tags: ``pkg/line/line.go`` (``LineToEvents``, ``parseTag``); timers
  (``ms``) are divided by 1000 into seconds;
- mapping file checks: ``pkg/mapper/mapper.go`` (``InitFromYAMLString``: ``metricLineRE``,
  ``metricNameRE``, ``labelNameRE``; every rule needs a name);
- glob matching: ``pkg/mapper/fsm/fsm.go``: the name and the pattern are split on ".", a ``*``
  matches exactly one whole component (any text without a dot, even empty), a literal must be
  equal, the counts must be equal; the rule's ``match_metric_type`` (counter, gauge, observer)
  must be the line's type when given; of every glob rule that matches, the one earliest in the
  file wins (``glob_disable_ordering: false``, the default);
- regex rules (``match_type: regex``) are tried only when no glob rule matched, in file order,
  with an unanchored search (Go's ``FindStringSubmatchIndex``);
- templates: ``pkg/mapper/fsm/formatter.go`` for glob rules (``$n`` / ``${n}``, greedy: ``$1x``
  is the capture named ``1x``, which does not exist and becomes ""), Go's
  ``regexp.Expand`` for regex rules (the same greedy names);
- labels: the line's tags first, then the rule's labels over them
  (``pkg/exporter/exporter.go``, ``handleEvent``); the name through ``EscapeMetricName``
  (``pkg/mapper/escape.go``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
MAPPING_FILE = PROJECT_DIR / "monitoring" / "statsd_exporter.yml"

# pkg/mapper/mapper.go
_STATSD_METRIC = r"[a-zA-Z_](-?[a-zA-Z0-9_])*"
_TEMPLATE = r"(\$\{?\d+\}?)"
METRIC_LINE_RE = re.compile(rf"^(\*\.|{_STATSD_METRIC}\.)+(\*|{_STATSD_METRIC})$")
METRIC_NAME_RE = re.compile(rf"^([a-zA-Z_]|{_TEMPLATE})([a-zA-Z0-9_]|{_TEMPLATE})*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]+$")
# pkg/mapper/fsm/formatter.go
_FSM_TEMPLATE_RE = re.compile(r"\$\{?([a-zA-Z0-9_\$]+)\}?")
# Go's regexp.Expand: $name or ${name}, name as long as possible; $$ is a dollar.
_GO_EXPAND_RE = re.compile(r"\$(\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))")

STATSD_TYPES = {"c": "counter", "g": "gauge", "ms": "observer", "h": "observer", "d": "observer"}


class MappingError(ValueError):
    """The mapping file would not load in statsd_exporter."""


@dataclass(frozen=True)
class Line:
    """One statsd sample: ``name:value|type|@rate|#tag:value,...``."""

    name: str
    value: float
    kind: str  # counter, gauge or observer
    tags: dict[str, str]


@dataclass(frozen=True)
class Rule:
    index: int
    match: str
    match_type: str
    name: str
    labels: dict[str, str]
    metric_type: str | None
    action: str
    observer_type: str
    help: str
    buckets: tuple[float, ...]
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Series:
    """What one line became: a Prometheus metric of a type, with its labels."""

    name: str
    type: str  # counter, gauge, histogram or summary
    labels: dict[str, str]
    value: float
    rule: Rule

    def sample_names(self) -> list[str]:
        """The names Prometheus stores for it (a histogram is three series)."""
        if self.type == "histogram":
            return [f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"]
        if self.type == "summary":
            return [self.name, f"{self.name}_sum", f"{self.name}_count"]
        return [self.name]


@dataclass(frozen=True)
class Dropped:
    rule: Rule


@dataclass
class Mapping:
    rules: list[Rule]
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def globs(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.match_type == "glob"]

    def rule_for(self, name: str, kind: str) -> tuple[Rule, list[str]] | None:
        """The rule statsd_exporter applies to a metric of this name and type, and what its
        stars (or groups) captured; None when no rule matches."""
        parts = name.split(".")
        for rule in self.globs:  # in file order: the earliest match wins
            if rule.metric_type not in (None, kind):
                continue
            pattern = rule.match.split(".")
            if len(pattern) != len(parts):
                continue
            if all(p == "*" or p == part for p, part in zip(pattern, parts, strict=True)):
                return rule, [part for p, part in zip(pattern, parts, strict=True) if p == "*"]
        for rule in self.rules:
            if rule.regex is None:
                continue
            found = rule.regex.search(name)
            if found is None or rule.metric_type not in (None, kind):
                continue
            return rule, [found.group(0), *(group or "" for group in found.groups())]
        return None

    def map_line(self, line: Line) -> Series | Dropped | None:
        found = self.rule_for(line.name, line.kind)
        if found is None:
            return None
        rule, captures = found
        if rule.action == "drop":
            return Dropped(rule)
        if rule.regex is not None:
            name = _go_expand(rule.name, captures)
            labels = {key: _go_expand(value, captures) for key, value in rule.labels.items()}
        else:
            name = _fsm_format(rule.name, captures)
            labels = {key: _fsm_format(value, captures) for key, value in rule.labels.items()}
        series_type = line.kind if line.kind != "observer" else rule.observer_type
        return Series(
            escape_metric_name(name),
            series_type,
            {**line.tags, **labels},
            line.value,
            rule,
        )

    def map_text(self, text: str) -> Series | Dropped | None:
        (line,) = parse_lines(text)
        return self.map_line(line)


def load_mapping(path: Path = MAPPING_FILE) -> Mapping:
    """The rules of a mapping file, refused as statsd_exporter would refuse them."""
    document = yaml.safe_load(path.read_text())
    defaults = document.get("defaults") or {}
    default_match_type = defaults.get("match_type") or "glob"
    default_observer = defaults.get("observer_type") or "summary"
    default_buckets = tuple((defaults.get("histogram_options") or {}).get("buckets") or ())
    allowed = {
        "match", "name", "labels", "match_type", "match_metric_type", "action", "help",
        "observer_type", "histogram_options", "summary_options", "ttl", "honor_labels",
    }  # fmt: skip
    rules = []
    for index, raw in enumerate(document.get("mappings") or []):
        unknown = set(raw) - allowed
        if unknown:
            raise MappingError(f"rule {index}: unknown keys {sorted(unknown)}")
        labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
        for key in labels:
            if not LABEL_NAME_RE.match(key):
                raise MappingError(f"invalid label key: {key}")
        name = raw.get("name") or ""
        if not name:
            raise MappingError(f"line {index}: metric mapping didn't set a metric name")
        if not METRIC_NAME_RE.match(name):
            raise MappingError(f"metric name '{name}' doesn't match regex")
        match_type = raw.get("match_type") or default_match_type
        regex = None
        if match_type == "glob":
            if not METRIC_LINE_RE.match(raw["match"]):
                raise MappingError(f"invalid match: {raw['match']}")
        elif match_type == "regex":
            regex = re.compile(raw["match"], re.ASCII)
        else:
            raise MappingError(f"invalid match_type {match_type!r}")
        metric_type = raw.get("match_metric_type")
        if metric_type not in (None, "counter", "gauge", "observer"):
            raise MappingError(f"invalid metric type '{metric_type}'")
        action = raw.get("action") or "map"
        if action not in ("map", "drop"):
            raise MappingError(f"invalid action type {action!r}")
        buckets = tuple((raw.get("histogram_options") or {}).get("buckets") or default_buckets)
        rules.append(
            Rule(
                index=index,
                match=raw["match"],
                match_type=match_type,
                name=name,
                labels=labels,
                metric_type=metric_type,
                action=action,
                observer_type=raw.get("observer_type") or default_observer,
                help=raw.get("help") or "Metric autogenerated by statsd_exporter.",
                buckets=buckets,
                regex=regex,
            )
        )
    return Mapping(rules, defaults)


def parse_lines(text: str) -> list[Line]:
    """Statsd lines as statsd_exporter's line parser reads them (DogStatsD tags on; one sample
    per line, which is what Airflow's client and ours send)."""
    lines = []
    for raw in text.splitlines():
        if not raw:
            continue
        name, _, rest = raw.partition(":")
        if not name or not rest:
            raise ValueError(f"malformed line {raw!r}")
        value_text, *components = rest.split("|")
        if not components or components[0] not in STATSD_TYPES:
            raise ValueError(f"bad stat type in {raw!r}")
        statsd_type = components[0]
        tags: dict[str, str] = {}
        for component in components[1:]:
            if component.startswith("#"):
                for tag in component[1:].split(","):
                    key, separator, value = tag.lstrip("#").partition(":")
                    if not separator or not key or not value:
                        raise ValueError(f"malformed tag {tag!r} in {raw!r}")
                    tags[escape_metric_name(key)] = value
            elif not component.startswith("@"):
                raise ValueError(f"invalid sampling factor or tag section in {raw!r}")
        value = float(value_text)
        if statsd_type == "ms":
            value /= 1000  # prometheus presumes seconds, statsd milliseconds
        lines.append(Line(name, value, STATSD_TYPES[statsd_type], tags))
    return lines


def escape_metric_name(name: str) -> str:
    """pkg/mapper/escape.go: invalid characters become "_" (a second "-" in a row is dropped),
    a leading digit gets a "_" before it."""
    if not name:
        return ""
    out = "_" if name[0].isdigit() else ""
    previous = ""
    for char in name:
        if char.isascii() and (char.isalnum() or char == "_"):
            out += char
        elif not (char == "-" and previous == "-"):
            out += "_"
        previous = char
    return out


def _fsm_format(template: str, captures: list[str]) -> str:
    def replace(found: re.Match[str]) -> str:
        name = found.group(1)
        if not name.isdigit() or not 1 <= int(name) <= len(captures):
            return ""
        return captures[int(name) - 1]

    return _FSM_TEMPLATE_RE.sub(replace, template)


def _go_expand(template: str, groups: list[str]) -> str:
    def replace(found: re.Match[str]) -> str:
        if found.group(1) == "$":
            return "$"
        name = found.group(2) or found.group(3)
        if name.isdigit() and int(name) < len(groups):
            return groups[int(name)]
        return ""

    return _GO_EXPAND_RE.sub(replace, template)


def map_lines(lines: list[str], mapping: Mapping | None = None) -> list[Series]:
    """The Prometheus series a list of captured statsd lines becomes; fails naming every line
    no rule matches (statsd_exporter would export it unmapped, without labels)."""
    mapping = mapping or load_mapping()
    series, unmatched = [], []
    for line in parse_lines("\n".join(lines)):
        result = mapping.map_line(line)
        if result is None:
            unmatched.append(f"{line.name} ({line.kind})")
        elif isinstance(result, Series):
            series.append(result)
    assert not unmatched, "no rule in monitoring/statsd_exporter.yml matches:\n  " + "\n  ".join(
        sorted(set(unmatched))
    )
    return series


def assert_every_line_maps(lines: list[str], mapping: Mapping | None = None) -> list[Series]:
    """Every captured line matches a rule, and what they become could all be registered at once
    (statsd_exporter refuses a second type, label set or help text for a name)."""
    series = map_lines(lines, mapping)
    assert_consistent(series)
    return series


def assert_consistent(series: list[Series]) -> None:
    seen: dict[str, tuple[str, frozenset[str], str]] = {}
    problems = []
    for one in series:
        shape = (one.type, frozenset(one.labels), one.rule.help)
        for name in one.sample_names():
            if seen.setdefault(name, shape) != shape:
                problems.append(f"{name}: {seen[name]} and {shape}")
    assert not problems, "conflicting Prometheus metrics:\n  " + "\n  ".join(problems)
