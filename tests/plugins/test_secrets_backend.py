"""Production secrets from AWS Secrets Manager instead of the metadata DB: a task resolves its
connection from moto's Secrets Manager server on loopback."""

from __future__ import annotations

import json
import secrets

import boto3
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.migrate import upgrade
from spotify_agent.warehouse.schema import health_checks


def test_a_connection_resolves_from_secrets_manager_before_the_metadata_db(
    airflow_home, s3_server, tmp_path
) -> None:
    # A warehouse only Secrets Manager knows of: the run's rows landing there prove the lookup.
    elsewhere = tmp_path / "from-secrets-manager.db"
    engine = make_engine(f"sqlite:///{elsewhere}")
    upgrade(engine)
    engine.dispose()
    prefix = f"airflow-{secrets.token_hex(4)}/connections"
    client = boto3.client(
        "secretsmanager",
        endpoint_url=s3_server.endpoint_url,  # moto's server answers every AWS API
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # pragma: allowlist secret
    )
    client.create_secret(
        Name=f"{prefix}/warehouse_default",
        SecretString=json.dumps({"conn_type": "sqlite", "host": str(elsewhere)}),
    )
    env = {
        "AIRFLOW__SECRETS__BACKEND": (
            "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
        ),
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
            {
                "connections_prefix": prefix,
                "variables_prefix": None,
                "config_prefix": None,
                "endpoint_url": s3_server.endpoint_url,
                "region_name": "eu-west-1",
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",  # pragma: allowlist secret
            }
        ),
    }
    trace_id = secrets.token_hex(16)
    result = airflow_home.airflow(
        "dags",
        "test",
        "health_check",
        "--conf",
        json.dumps({"components": ["warehouse"], "trace_id": trace_id}),
        extra_env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    engine = create_engine(f"sqlite:///{elsewhere}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(health_checks.c.component, health_checks.c.status).where(
                health_checks.c.trace_id == trace_id
            )
        ).all()
    engine.dispose()
    assert rows == [("warehouse", "up")]
