"""docker-compose.yaml describes the deployment `make up-celery` starts: the same components,
one worker per routed queue, one executor, broker, metadata DB and JWT secret for all.

No Docker engine (or compose) runs on CI machines, so this reads the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from spotify_agent_airflow.queues import QUEUES

PROJECT_DIR = Path(__file__).resolve().parents[1]
COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer"}


def _compose() -> dict:
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yaml").read_text())


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("spotify-agent-airflow")
    }


def test_every_component_and_a_worker_per_queue_run_from_the_project_image() -> None:
    services = _airflow_services(_compose())

    commands = {name: service.get("command") for name, service in services.items()}
    assert {commands[name] for name in COMPONENTS} == COMPONENTS
    workers = {
        command.split("--queues ")[1]
        for command in commands.values()
        if isinstance(command, str) and command.startswith("celery worker")
    }
    assert workers == set(QUEUES)
    assert all(service["build"] == "." for service in services.values())


def test_every_airflow_container_shares_one_executor_broker_database_and_secret() -> None:
    compose = _compose()
    services = _airflow_services(compose)
    keys = (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    )

    environments = {name: service["environment"] for name, service in services.items()}
    for key in keys:
        assert len({env[key] for env in environments.values()}) == 1, key
    one = next(iter(environments.values()))
    assert one["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert one["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert set(one["CELERY_QUEUES"].split(",")) == set(QUEUES)
    # the init container migrates before anything else starts
    for name, service in services.items():
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"] == {
                "condition": "service_completed_successfully"
            }
    assert {"postgres", "redis"} <= set(compose["services"])
    initdb = (PROJECT_DIR / "scripts" / "compose-initdb.sql").read_text()
    assert "CREATE DATABASE warehouse" in initdb
    assert one["AIRFLOW_CONN_WAREHOUSE_DEFAULT"].endswith("/warehouse")


MONITORING = ("statsd-exporter", "prometheus", "grafana")


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}``, as `docker compose` fills it in from the environment."""
    return re.sub(
        r"\$\{(\w+):-([^}]*)\}", lambda found: env.get(found.group(1)) or found.group(2), value
    )


def _flags(service: dict) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in service["command"])


def _mounts(service: dict) -> dict[str, Path]:
    """Container path -> the project file or folder mounted there (named volumes left out)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = PROJECT_DIR / source
    return mounts


def test_the_monitoring_profile_adds_exporter_prometheus_and_grafana_and_nothing_else() -> None:
    services = _compose()["services"]

    assert {name for name, s in services.items() if s.get("profiles")} == set(MONITORING)
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"]
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), image  # a pinned release
        for port in services[name]["ports"]:
            # Published on the host's loopback unless MONITORING_PUBLISH says otherwise.
            assert _interpolate(port, {}).startswith("127.0.0.1:"), port
        for target, source in _mounts(services[name]).items():
            assert source.exists(), f"{name} mounts {source} at {target}, which is missing"


def test_with_the_profile_every_airflow_container_sends_its_metrics_to_the_exporter() -> None:
    compose = _compose()
    exporter = compose["services"]["statsd-exporter"]
    flags = _flags(exporter)
    for name, service in _airflow_services(compose).items():
        env = service["environment"]
        # Off by default (no exporter runs without the profile), on with AIRFLOW_METRICS=True.
        assert _interpolate(env["AIRFLOW__METRICS__STATSD_ON"], {}) == "False", name
        assert (
            _interpolate(env["AIRFLOW__METRICS__STATSD_ON"], {"AIRFLOW_METRICS": "True"}) == "True"
        )
        assert env["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter", name
        assert flags["statsd.listen-udp"] == f":{env['AIRFLOW__METRICS__STATSD_PORT']}", name
        # The exporter starts first when it runs at all; without the profile it is not required.
        assert service["depends_on"]["statsd-exporter"] == {
            "condition": "service_started",
            "required": False,
        }, name
    # The exporter reads the shipped mapping.
    mounts = _mounts(exporter)
    assert mounts[flags["statsd.mapping-config"]] == PROJECT_DIR / "monitoring/statsd_exporter.yml"


def test_prometheus_scrapes_the_exporter_and_grafana_reads_prometheus() -> None:
    services = _compose()["services"]
    exporter, prometheus, grafana = (services[name] for name in MONITORING)
    flags = _flags(prometheus)
    config_path = _mounts(prometheus)[flags["config.file"]]
    assert config_path == PROJECT_DIR / "monitoring/prometheus.yml"
    config = yaml.safe_load(config_path.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "statsd-exporter"]
    web_port = _flags(exporter)["web.listen-address"].split(":")[-1]
    assert job["static_configs"][0]["targets"] == [f"statsd-exporter:{web_port}"]

    mounts = _mounts(grafana)
    provisioning = mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    prometheus_port = flags["web.listen-address"].split(":")[-1]
    assert datasources["datasources"][0]["url"] == f"http://prometheus:{prometheus_port}"
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards/spotify-agent-airflow.yml").read_text()
    )["providers"]
    dashboards = mounts[provider["options"]["path"]]
    assert (dashboards / "spotify-agent-airflow.json").is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/spotify-agent-airflow.json"
    assert grafana["environment"]["GF_SERVER_HTTP_PORT"] == grafana["ports"][0].split(":")[-1]
