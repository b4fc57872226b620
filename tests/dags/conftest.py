"""Each DAG test module gets its own warehouse and object store on the session's Airflow.

Modules run in any order, two at a time (pytest-xdist), and several DAGs act on everything the
warehouse holds (``playlist_update`` syncs every managed playlist, ``gdpr_erasure`` takes every
open request): what one module plants must not reach another's runs or counts.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.conftest import AirflowHome


@pytest.fixture(scope="module")
def airflow_home(
    airflow_home: AirflowHome, tmp_path_factory: pytest.TempPathFactory
) -> AirflowHome:
    from spotify_agent.warehouse.engine import make_engine
    from spotify_agent.warehouse.migrate import upgrade

    root = tmp_path_factory.mktemp("dag-module")
    warehouse, objects = root / "warehouse.db", root / "objects"
    objects.mkdir()
    engine = make_engine(f"sqlite:///{warehouse}")
    upgrade(engine)
    engine.dispose()
    env = {
        **airflow_home.env,
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps(
            {"conn_type": "sqlite", "host": str(warehouse)}
        ),
        "AIRFLOW_VAR_OBJECT_STORE_URL": str(objects),
        "WAREHOUSE_SQLITE_PATH": str(warehouse),
        "OBJECT_STORE_URL": str(objects),
    }
    return dataclasses.replace(
        airflow_home, env=env, warehouse_path=warehouse, objects_path=objects
    )
