"""The shipped Grafana dashboard's PromQL, read and run against series by Prometheus' own engine.

``promtool`` (Debian's ``prometheus`` package) is what runs it: ``promtool test rules`` loads
input series and evaluates expressions with Prometheus' query engine, so "this panel shows data"
is decided by Prometheus, not by a copy of it. Tests that need it fail, naming the apt command,
when it is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.statsd_mapping import PROJECT_DIR, Series

DASHBOARD_FILE = (
    PROJECT_DIR / "monitoring" / "grafana" / "dashboards" / "spotify-agent-airflow.json"
)
APT_PROMTOOL = "apt-get install -y --no-install-recommends prometheus"

# Grafana's built-in interval variables, as a dashboard over a day would set them.
_BUILTINS = {"__range": "1d", "__interval": "5m", "__rate_interval": "5m", "__range_s": "86400"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and",
    "or", "unless", "atan2", "inf", "nan", "start", "end",
}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"\{([^}]*)\}")
_RANGE = re.compile(r"\[[^\]]*\]")
# Numbers and durations (1e3, 0.95, 5m, 1d) first, so their letters are not read as names.
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?|[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*(\w+)\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    panel: str
    expr: str  # PromQL, Grafana's variables filled in


def queries(path: Path = DASHBOARD_FILE) -> list[Query]:
    """Every PromQL expression of the dashboard: each panel's targets (rows included) and each
    template variable's query (``label_values(metric, label)`` becomes the metric itself)."""
    dashboard = json.loads(path.read_text())
    found = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            for target in panel.get("targets") or []:
                found.append(Query(panel["title"], fill_variables(target["expr"])))
            walk(panel.get("panels") or [])

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = (
            variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        )
        label_values = _LABEL_VALUES.match(query)
        assert label_values, f"variable {variable['name']}: unsupported query {query!r}"
        metric, label = label_values.groups()
        found.append(Query(f"variable {variable['name']}", f'{metric}{{{label}=~".+"}}'))
    return found


def fill_variables(expr: str) -> str:
    """Grafana's variables filled in: intervals as over a day, a dashboard variable as when a
    value is chosen (``.+``: a label the series lack would match "All" but filter nothing)."""

    def replace(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2) or found.group(3)
        return _BUILTINS.get(name, ".+")

    return _VARIABLE.sub(replace, expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (every identifier that is not a function,
    aggregation, keyword, label or number)."""
    text = _STRING.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = _SELECTOR.sub(" ", text)
    text = _RANGE.sub(" ", text)
    names = set()
    for found in _TOKEN.finditer(text):
        token = found.group(0)
        if token[0].isdigit() or token.lower() in _KEYWORDS:
            continue
        if text[found.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(token)
    return names


def label_names(expr: str) -> set[str]:
    """Label names an expression matches on or groups by."""
    text = _STRING.sub('""', expr)
    labels = set()
    for found in _GROUPING.finditer(text):
        labels.update(name.strip() for name in found.group(2).split(",") if name.strip())
    for found in _SELECTOR.finditer(text):
        for matcher in found.group(1).split(","):
            name = re.match(r"\s*([a-zA-Z_]\w*)", matcher)
            if name:
                labels.add(name.group(1))
    return labels


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, f"promtool not found: install Debian's prometheus package (sudo {APT_PROMTOOL})"
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def assert_queries_return_data(
    queries_: list[Query], series: list[Series], workdir: Path, *, minutes: int = 120
) -> None:
    """Each query names only labels its metrics have and, evaluated by Prometheus on these series
    (as scraped every minute for two hours), returns at least one sample: the panel shows data."""
    labels: dict[str, set[str]] = {}
    for one in series:
        for name in one.sample_names():
            extra = set()
            if one.type == "histogram" and name.endswith("_bucket"):
                extra = {"le"}
            elif one.type == "summary" and name == one.name:
                extra = {"quantile"}
            labels.setdefault(name, set()).update(set(one.labels) | extra)
    for query in queries_:
        known = set().union(*(labels.get(name, set()) for name in metric_names(query.expr)))
        missing = label_names(query.expr) - known
        assert not missing, f"panel {query.panel}: no label {sorted(missing)} on its series"
    input_series = _input_series(series, minutes)
    tests = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": [
                    {
                        # The comment names the panel in promtool's report.
                        "expr": f"# panel: {query.panel}\ncount(({query.expr})) > bool 0",
                        "eval_time": f"{minutes}m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                    for query in queries_
                ],
            }
        ],
    }
    path = workdir / "dashboard_queries_test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run_promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def _input_series(series: list[Series], minutes: int) -> list[dict[str, str]]:
    """Counters and histograms grow by each observation every minute; gauges hold their value."""
    by_key: dict[str, str] = {}
    for one in series:
        if one.type == "histogram":
            for bound in [*one.rule.buckets, "+Inf"]:
                hit = bound == "+Inf" or one.value <= float(bound)
                labels = {**one.labels, "le": _bound_text(bound)}
                by_key.setdefault(
                    _series_text(f"{one.name}_bucket", labels),
                    f"0+1x{minutes}" if hit else f"0x{minutes}",
                )
            by_key.setdefault(
                _series_text(f"{one.name}_sum", one.labels), f"0+{one.value}x{minutes}"
            )
            by_key.setdefault(_series_text(f"{one.name}_count", one.labels), f"0+1x{minutes}")
        elif one.type == "counter":
            by_key.setdefault(_series_text(one.name, one.labels), f"0+{one.value}x{minutes}")
        elif one.type == "gauge":
            by_key[_series_text(one.name, one.labels)] = f"{one.value}x{minutes}"
        else:
            raise AssertionError(f"{one.name}: {one.type} series are not used by the mapping")
    return [{"series": key, "values": values} for key, values in by_key.items()]


def _bound_text(bound: float | str) -> str:
    return bound if isinstance(bound, str) else repr(float(bound))


def _series_text(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def panel_queries(*titles: str) -> list[Query]:
    """The queries of the panels (or ``variable <name>``) with these titles."""
    chosen = [query for query in queries() if query.panel in titles]
    missing = set(titles) - {query.panel for query in chosen}
    assert not missing, f"no such panel in the dashboard: {sorted(missing)}"
    return chosen
