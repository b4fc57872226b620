"""The monitoring stack (monitoring/): statsd_exporter's mapping, Prometheus' config and the
Grafana dashboard agree with each other and with the metrics Airflow 3.3 and our code send.

What real runs send is checked where they run: tests/plugins/test_metrics.py (a task, a failing
task), tests/dags/ (the families) and tests/e2e/test_scheduled_runs.py (scheduler, DAG
processor, executor). Here: every metric Airflow's own registry defines, our metrics as our
emitter writes them, and every dashboard query, evaluated by Prometheus' engine (promtool).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.grafana_dashboard import (
    DASHBOARD_FILE,
    assert_queries_return_data,
    label_names,
    metric_names,
    queries,
    run_promtool,
)
from tests.receivers import run_statsd_receiver
from tests.statsd_mapping import (
    PROJECT_DIR,
    Dropped,
    Mapping,
    MappingError,
    Series,
    assert_consistent,
    load_mapping,
    map_lines,
)

MONITORING = PROJECT_DIR / "monitoring"
# Components this deployment does not run (their providers are not installed).
NOT_RUN = (
    "edge_worker.", "edge_executor.", "kubernetes_executor.", "batch_executor.", "ecs_executor.",
    "lambda_executor.", "ol.",
)  # fmt: skip
# Values for the variables in Airflow's metric names, from this project.
EXAMPLES = {
    "dag_id": ["health_check"],
    "task_id": ["check_components"],
    "state": ["success", "failed", "up_for_retry"],
    "pool_name": ["spotify_api", "default_pool"],
    "executor_class_name": ["CeleryExecutor"],
    "bundle_name": ["dags-folder"],
    "file_name": ["health_check"],
    "dag_file": ["health_check"],
    "queue": ["spotify"],
    "operator_name": ["HealthCheckOperator"],
    "task_type": ["HealthCheckOperator"],
    "job_id": ["42"],
    "return_code": ["0"],
    "hostname": ["triggerer-1"],
    "job_name": ["job"],
}
# Variables that do not become labels: the job id is one per task run (a series per run), and
# Airflow 3 names every job "job".
NOT_LABELS = {"job_id", "job_name"}
STATSD_KIND = {"counter": "c", "gauge": "g", "timer": "ms"}
SERIES_TYPE = {"counter": "counter", "gauge": "gauge", "timer": "histogram"}


def _airflow_registry() -> list[dict]:
    """Airflow's own list of the metrics it sends (names, types, legacy names), as installed."""
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "_shared" / "observability" / "metrics" / "metrics_template.yaml"
    return [
        m for m in yaml.safe_load(path.read_text())["metrics"] if not m["name"].startswith(NOT_RUN)
    ]


def _instances(template: str, variables: list[str]) -> list[tuple[str, dict[str, str]]]:
    choices = [EXAMPLES[name] for name in variables]
    return [
        (
            template.format(**dict(zip(variables, values, strict=True))),
            dict(zip(variables, values, strict=True)),
        )
        for values in itertools.product(*choices)
    ]


SAMPLE_VALUES = {"c": 1, "g": 3, "ms": 250}


def _line(name: str, kind: str) -> str:
    return f"airflow.{name}:{SAMPLE_VALUES[kind]}|{kind}"


def _registry_lines() -> list[str]:
    """One line for each name Airflow sends for each metric of its registry: the new name, and
    the legacy name for each combination of this project's values of its variables."""
    lines = []
    for metric in _airflow_registry():
        kind = STATSD_KIND[metric["type"]]
        variables = metric.get("name_variables") or []
        legacy = metric.get("legacy_name", "-")
        if legacy != "-" or not variables:
            lines.append(_line(metric["name"], kind))
        if variables:
            template = legacy if legacy != "-" else metric["name"]
            lines += [_line(name, kind) for name, _ in _instances(template, variables)]
    return lines


def _our_lines(monkeypatch) -> list[str]:
    """What our emitter (the plugin's emit_action_metrics, as tasks call it) sends for every
    count the mapping names, plus a count it does not name, of each kind."""
    from spotify_agent_airflow.metrics import emit_action_metrics

    counts: dict[str, dict[str, float]] = {}
    for rule in load_mapping().rules:
        parts = rule.match.split(".")
        if parts[0] != "spotify_agent" or parts[2] == "*" or parts[1] == "task_attempt":
            continue
        action = "listening_ingested" if parts[1] == "*" else parts[1]
        counts.setdefault(action, {})[parts[2]] = 120 if parts[2].endswith("_ms") else 7
    counts["listening_aggregated"] = {"rejected_unknown_track": 2, "extra_bytes": 10, "lag_ms": 30}
    with run_statsd_receiver() as statsd:
        for name, value in statsd.env().items():
            monkeypatch.setenv(name, value)
        for dag, task, outcome in [
            ("listening_ingest", "ingest", "success"),
            ("listening_ingest", "ingest", "up_for_retry"),
            ("backup", "back_up_warehouse", "failed"),
        ]:
            context = {"ti": SimpleNamespace(dag_id=dag, task_id=task)}
            emit_action_metrics(
                context, "task_attempt", {"attempts": 1, "duration_ms": 4200}, {"outcome": outcome}
            )
        for action, values in counts.items():
            context = {"ti": SimpleNamespace(dag_id="listening_ingest", task_id="ingest")}
            emit_action_metrics(context, action, values)
        expected = 3 * 2 + sum(len(values) for values in counts.values())
        deadline = time.monotonic() + 5
        while (
            len(statsd.starting_with("spotify_agent.")) < expected and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    # (Airflow, imported by the emitter, may send a metric of its own too.)
    ours = statsd.starting_with("spotify_agent.")
    assert len(ours) == expected, ours
    return ours


def _series(text: str, mapping: Mapping | None = None) -> Series | Dropped | None:
    return (mapping or load_mapping()).map_text(text)


def _mapping(tmp_path: Path, rules: list[dict]) -> Mapping:
    path = tmp_path / "mapping.yml"
    path.write_text(yaml.safe_dump({"mappings": rules}))
    return load_mapping(path)


# ---- the mapping engine follows statsd_exporter's documented examples -------------------------


def test_the_mapping_helper_reads_globs_as_statsd_exporters_readme_does(tmp_path) -> None:
    # The README's example: each * is one component; $n are the components, in order.
    mapping = _mapping(
        tmp_path,
        [
            {
                "match": "test.dispatcher.*.*.*",
                "name": "dispatcher_events_total",
                "labels": {
                    "processor": "$1",
                    "action": "$2",
                    "outcome": "$3",
                    "job": "test_dispatcher",
                },
            },
            {
                "match": "*.signup.*.*",
                "name": "signup_events_total",
                "labels": {"provider": "$2", "outcome": "$3", "job": "${1}_server"},
            },
            {"match": "test.*.*.counter", "name": "${2}_total", "labels": {"provider": "$1"}},
            {"match": "test.*.x.counter", "name": "never", "labels": {}},
            {"match": "greedy.*", "name": "greedy_$1_total"},
        ],
    )
    one = mapping.map_text("test.dispatcher.FooProcessor.send.success:1|c")
    assert (one.name, one.labels) == (
        "dispatcher_events_total",
        {
            "processor": "FooProcessor",
            "action": "send",
            "outcome": "success",
            "job": "test_dispatcher",
        },
    )
    two = mapping.map_text("foo_product.signup.facebook.failure:1|c")
    assert (two.name, two.labels["job"]) == ("signup_events_total", "foo_product_server")
    # A * never spans two components, and an earlier rule wins over a later, narrower one.
    assert mapping.map_text("test.dispatcher.a.b.c.d:1|c") is None
    assert mapping.map_text("test.a.x.counter:1|c").name == "x_total"
    # "$1_total" reads as the capture named "1_total", which is empty: the trap of templates.
    assert mapping.map_text("greedy.a:1|c").name == "greedy_"
    # Tags are labels; a rule's labels win over them; timers become seconds.
    three = mapping.map_text("test.a.b.counter:250|ms|#provider:tag,dag:x")
    assert (three.labels, three.value, three.type) == (
        {"provider": "a", "dag": "x"},
        0.25,
        "summary",
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"match": "a.b", "name": ""},  # no name
        {"match": "a.b", "name": "9lives"},  # not a Prometheus name
        {"match": "a.b*", "name": "x"},  # a * inside a component is not a glob
        {"match": "a.b", "name": "x", "labels": {"k": "v"}},  # a one-letter label
        {"match": "a.b", "name": "x", "match_metric_type": "timer"},  # not counter/gauge/observer
    ],
)
def test_a_rule_statsd_exporter_would_refuse_is_refused(tmp_path, rule) -> None:
    with pytest.raises(MappingError):
        _mapping(tmp_path, [rule])


# ---- the shipped mapping ---------------------------------------------------------------------


def test_every_shipped_rule_loads_declares_its_type_and_can_fire() -> None:
    mapping = load_mapping()
    for rule in mapping.rules:
        if rule.action == "map":
            assert rule.metric_type, f"{rule.match}: say which statsd type it takes"
    # A glob rule that an earlier one always wins over would never fire (statsd_exporter only
    # logs a warning): a name made from its own pattern must reach it.
    kinds = ("counter", "gauge", "observer")
    for rule in mapping.globs:
        name = ".".join("x_sample" if part == "*" else part for part in rule.match.split("."))
        for kind in [rule.metric_type] if rule.metric_type else kinds:
            found = mapping.rule_for(name, kind)
            winner = found[0].match if found else None
            assert found and found[0] is rule, f"{rule.match} ({kind}) is shadowed by {winner}"


def test_every_metric_airflow_defines_becomes_a_labelled_series_or_is_dropped_as_a_repeat() -> None:
    mapping = load_mapping()
    produced = []
    for metric in _airflow_registry():
        kind = STATSD_KIND[metric["type"]]
        variables = metric.get("name_variables") or []
        legacy = metric.get("legacy_name", "-")
        if legacy != "-" or not variables:
            result = _series(_line(metric["name"], kind), mapping)
            if legacy != "-":
                # Sent untagged, the new name only repeats the legacy one summed: dropped.
                assert isinstance(result, Dropped), f"{metric['name']}: {result}"
            else:
                assert isinstance(result, Series), f"{metric['name']}: {result}"
                assert result.type == SERIES_TYPE[metric["type"]], metric["name"]
                produced.append(result)
        for name, values in (
            _instances(legacy if legacy != "-" else metric["name"], variables) if variables else []
        ):
            result = _series(_line(name, kind), mapping)
            assert isinstance(result, Series), f"{name}: {result}"
            assert result.type == SERIES_TYPE[metric["type"]], name
            for variable, value in values.items():
                if variable not in NOT_LABELS:
                    assert value in result.labels.values(), f"{name}: {variable} is not a label"
            produced.append(result)
    # Counters end in _total and durations in _seconds, as Prometheus names them.
    for one in produced:
        assert one.name.startswith("airflow_")
        assert one.type != "counter" or one.name.endswith("_total"), one.name
        assert one.type != "histogram" or one.name.endswith("_seconds"), one.name
    assert_consistent(produced)


def test_our_metrics_are_named_by_their_count_with_the_action_dag_and_task_as_labels(
    monkeypatch,
) -> None:
    mapped = map_lines(_our_lines(monkeypatch))
    assert_consistent(mapped)
    series = {
        (one.name, one.labels.get("action"), one.labels.get("outcome")): one for one in mapped
    }
    attempt = series[("spotify_agent_task_attempts_total", None, "failed")]
    assert (attempt.type, attempt.labels) == (
        "counter",
        {"dag": "backup", "task": "back_up_warehouse", "outcome": "failed"},
    )
    duration = series[("spotify_agent_task_attempt_duration_seconds", None, "success")]
    assert (duration.type, duration.value) == ("histogram", 4.2)
    rows = series[("spotify_agent_rows_written_total", "listening_ingested", None)]
    assert rows.labels == {
        "dag": "listening_ingest",
        "task": "ingest",
        "action": "listening_ingested",
    }
    assert series[("spotify_agent_spotify_p95_seconds", "listening_ingested", None)].value == 0.12
    ndcg = [one for one in mapped if one.name == "spotify_agent_model_ndcg_pct"]
    assert sorted(one.labels["model"] for one in ndcg) == ["als", "ease", "popular", "production"]
    # A count no rule names still gets its own series, its kind from its name.
    assert (
        series[("spotify_agent_rejected_unknown_track_total", "listening_aggregated", None)].type
        == "counter"
    )
    assert series[("spotify_agent_extra_bytes", "listening_aggregated", None)].type == "gauge"
    assert series[("spotify_agent_lag_ms_seconds", "listening_aggregated", None)].value == 0.03
    # No label holds a per-run value.
    assert not [one for one in series.values() if {"trace_id", "run_id"} & set(one.labels)]


# ---- Prometheus' config ----------------------------------------------------------------------


def test_promtool_accepts_the_prometheus_config(tmp_path) -> None:
    shipped = MONITORING / "prometheus.yml"
    result = run_promtool("check", "config", str(shipped))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    # The same check refuses a config Prometheus would refuse, so a pass means something.
    broken = tmp_path / "prometheus.yml"
    broken.write_text(shipped.read_text().replace("scrape_interval: 15s", "scrape_interval: often"))
    assert run_promtool("check", "config", str(broken)).returncode != 0
    config = yaml.safe_load(shipped.read_text())
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["statsd-exporter"] == ["statsd-exporter:9102"]


# ---- the Grafana dashboard -------------------------------------------------------------------


def _fixed_names(mapping: Mapping) -> dict[str, str]:
    """Every Prometheus series name a rule with a fixed name makes -> the rule's statsd type."""
    names = {}
    for rule in mapping.rules:
        if rule.action != "map" or "$" in rule.name:
            continue
        if rule.metric_type == "observer":
            suffixes = (
                ["_bucket", "_sum", "_count"]
                if rule.observer_type == "histogram"
                else ["", "_sum", "_count"]
            )
            names.update({f"{rule.name}{suffix}": "observer" for suffix in suffixes})
        else:
            names[rule.name] = rule.metric_type or ""
    return names


def test_every_dashboard_query_names_only_series_the_mapping_makes() -> None:
    produced = _fixed_names(load_mapping())
    all_queries = queries()
    assert len(all_queries) > 20
    for query in all_queries:
        names = metric_names(query.expr)
        assert names, f"{query.panel}: no metric in {query.expr!r}"
        unknown = names - set(produced)
        assert not unknown, f"{query.panel}: {sorted(unknown)} is made by no rule with a fixed name"
        if "le" in label_names(query.expr):
            assert all(name.endswith("_bucket") for name in names), query
    # The parser reads names the way they are written (a check of the check).
    assert metric_names('sum by (le) (rate(a_bucket{x="b}c"}[5m])) / on(y) b_total offset 1h') == {
        "a_bucket",
        "b_total",
    }


def test_every_dashboard_query_is_prometheus_and_shows_data_for_what_the_mapping_makes(
    monkeypatch, tmp_path
) -> None:
    series = map_lines(_registry_lines() + _our_lines(monkeypatch))
    assert_queries_return_data(queries(), series, tmp_path)


@pytest.mark.parametrize(
    ("expr", "report"),
    [
        # A label the series do not have: "All" would still match, a chosen DAG filters nothing.
        ('sum by (dag_id) (spotify_agent_rows_written_total{dag_id=~".+"})', "no label ['dag_id']"),
        # A value no series has: Prometheus returns nothing, the panel would stay empty.
        ('sum(spotify_agent_rows_written_total{action="listening_aggregated"})', "panel: empty"),
    ],
)
def test_a_query_the_mapped_series_cannot_answer_is_reported(tmp_path, expr, report) -> None:
    from tests.grafana_dashboard import Query

    series = map_lines(
        ["spotify_agent.listening_ingested.rows_written:3|c|#dag:listening_ingest,task:ingest"]
    )
    panel = "empty" if "panel" in report else "wrong label"
    with pytest.raises(AssertionError, match=re.escape(report)):
        assert_queries_return_data([Query(panel, expr)], series, tmp_path)


def test_the_dashboard_reads_the_provisioned_prometheus() -> None:
    provisioned = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    (datasource,) = provisioned["datasources"]
    assert (datasource["type"], datasource["url"]) == ("prometheus", "http://prometheus:9090")
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    used = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("datasource"), dict):
                used.add((node["datasource"]["type"], node["datasource"]["uid"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dashboard)
    assert used == {("prometheus", datasource["uid"])}
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    provider = yaml.safe_load(
        (MONITORING / "grafana/provisioning/dashboards/spotify-agent-airflow.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
