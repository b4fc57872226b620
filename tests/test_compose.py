"""docker-compose.yaml describes the deployment `make up-celery` starts: the same components,
one worker per routed queue, one executor, broker, metadata DB and JWT secret for all.

No Docker engine (or compose) runs on CI machines, so this reads the file.
"""

from __future__ import annotations

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
