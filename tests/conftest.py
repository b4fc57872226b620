"""Shared fixtures: real PostgreSQL, Redis and an S3 API server, and a throwaway Airflow home.

Services are never mocked and never skipped: a test that cannot reach one fails and says how to
start it (see README "Services for the tests").
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]

# Airflow reads its configuration at import: point it at a throwaway home before any test imports
# it, so the suite never touches the developer's var/airflow.
_TEST_HOME = Path(tempfile.mkdtemp(prefix="spotify-agent-tests-"))
for _name in [name for name in os.environ if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
    del os.environ[_name]
os.environ.update(
    {
        "AIRFLOW_HOME": str(_TEST_HOME / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_TEST_HOME / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "SPOTIFY_AGENT_HOME": str(PROJECT_DIR),
    }
)
(_TEST_HOME / "airflow").mkdir(parents=True, exist_ok=True)

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


# Test files that take minutes (real Airflow deployments, many `airflow dags test` runs), started
# first so that no worker is left with one of them at the end while the others idle.
LONGEST_FIRST = (
    "tests/e2e/test_celery_deployment.py",
    "tests/e2e",
    "tests/dags/test_game_day.py",
    "tests/dags/test_gdpr_erasure_dag.py",
    "tests/dags",
)


def _scope(nodeid: str) -> str:
    """What one worker runs together: a test file, or all end-to-end tests on the one Airflow
    they start (the Celery deployment starts its own, so it is a scope of its own)."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/e2e/") and path != LONGEST_FIRST[0]:
        return "tests/e2e"
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        scope = _scope(item.nodeid)
        return next(
            (n for n, prefix in enumerate(LONGEST_FIRST) if scope.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)  # stable: each file keeps its own order


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under pytest-xdist (``make test`` runs ``-n auto``) a scope (see ``_scope``) stays on one
    worker, so its module fixtures are built once. (Not ``xdist_group`` marks: pytest 9.2 ignores
    how xdist 3.8 tags node ids with them, pytest-xdist issue 1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByScope(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    # Scopes in collection order (LONGEST_FIRST), not xdist's default of most tests first.
    config.option.loadscopereorder = False
    return ByScope(config, log)


def _service_missing(what: str, url: str, error: Exception) -> pytest.Failed:
    return pytest.fail(
        f"{what} is not reachable at {url} ({type(error).__name__}: {error}). "
        "The tests need it running: see README, 'Services for the tests'.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001
        _service_missing("PostgreSQL", POSTGRES_URL, error)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"spotify_agent_test_{secrets.token_hex(4)}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each warehouse backend: every warehouse test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def warehouse(database_url: str) -> Iterator[object]:
    """A migrated warehouse engine on each backend."""
    from spotify_agent.warehouse.engine import make_engine
    from spotify_agent.warehouse.migrate import upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as error:  # noqa: BLE001
        _service_missing("Redis", REDIS_URL, error)
    finally:
        client.close()
    return REDIS_URL


def redis_connection(url: str) -> dict[str, object]:
    """Airflow ``redis`` connection fields (host, port, extra.db) for a ``redis://`` URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    db = int(parts.path.lstrip("/") or 0)
    return {
        "conn_type": "redis",
        "host": parts.hostname,
        "port": parts.port or 6379,
        "extra": {"db": db},
    }


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # pragma: allowlist secret
            region_name="eu-west-1",
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's standalone S3 API server on a free loopback port, with one bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(endpoint_url=f"http://{host}:{port}", bucket="spotify-agent-test")
    s3.client().create_bucket(  # type: ignore[attr-defined]
        Bucket=s3.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield s3
    server.stop()


@dataclass(frozen=True)
class AirflowHome:
    """A migrated Airflow home with airflow_settings.yaml applied and its own warehouse."""

    path: Path
    env: dict[str, str]
    warehouse_path: Path
    objects_path: Path

    def run(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            env={**self.env, **(extra_env or {})},
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def airflow(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """The ``airflow`` CLI with this home's environment, in a new process (see
        tests/warm_processes.py for why it starts faster than ``subprocess.run``)."""
        return self._warm_run(
            [str(Path(sys.executable).with_name("airflow")), *args], extra_env, timeout
        )

    def _warm_run(
        self, argv: list[str], extra_env: dict[str, str] | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        from tests import warm_processes

        env = {**self.env, **(extra_env or {})}
        if argv[1:3] == ["dags", "test"] and not _NAMES_ITS_DAG & set(argv):
            argv = [*argv, *_dag_file_option(argv[3], Path(env["AIRFLOW__CORE__DAGS_FOLDER"]))]
        return warm_processes.run(argv, env=env, cwd=PROJECT_DIR, timeout=timeout)

    def dags_test(
        self,
        dag_id: str,
        conf: dict[str, object] | None = None,
        *,
        fixtures: bool = False,
        extra_env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test <dag_id> --conf <conf>``; ``fixtures`` takes the DAG from
        tests/dags/fixtures instead of dags/."""
        env = dict(extra_env or {})
        if fixtures:
            env["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_DIR / "tests" / "dags" / "fixtures")
        args = ["dags", "test", dag_id, *(["--conf", json.dumps(conf)] if conf else [])]
        return self.airflow(*args, extra_env=env, timeout=timeout)

    def metadata_db_env(self) -> dict[str, str]:
        """The ``airflow_metadata_db`` connection to this home's metadata DB (maintenance jobs)."""
        connection = {"conn_type": "sqlite", "host": str(self.path / "airflow.db")}
        return {"AIRFLOW_CONN_AIRFLOW_METADATA_DB": json.dumps(connection)}

    def cli(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return self._warm_run(
            [sys.executable, "-m", "spotify_agent_airflow.cli", *args], extra_env, timeout
        )


_NAMES_ITS_DAG = {"-f", "--dagfile-path", "-B", "--bundle-name"}


def _dag_file_option(dag_id: str, dags_folder: Path) -> list[str]:
    """``--dagfile-path`` of the DAG's file (``<dag_id>.py``, the layout's rule), so that
    ``airflow dags test`` parses the folder once (when it syncs the bundle), not twice."""
    files = sorted(dags_folder.rglob(f"{dag_id}.py"))
    return ["--dagfile-path", str(files[0])] if len(files) == 1 else []


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> AirflowHome:
    return make_airflow_home(tmp_path_factory.mktemp("airflow-home"))


def make_airflow_home(root: Path) -> AirflowHome:
    home = root / "airflow"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "SPOTIFY_AGENT_HOME": str(PROJECT_DIR),
            # Retry delays a hundredth as long: same attempts, seconds instead of minutes.
            "AIRFLOW__SPOTIFY_AGENT__RETRY_DELAY_SCALE": "0.01",
            "WAREHOUSE_SQLITE_PATH": str(root / "warehouse.db"),
            "OBJECT_STORE_URL": str(root / "objects"),
        }
    )
    ah = AirflowHome(home, env, root / "warehouse.db", root / "objects")
    for step in (
        ("airflow", "db", "migrate"),
        ("cli", "apply-settings"),
        ("cli", "migrate-warehouse"),
    ):
        result = ah.airflow(*step[1:]) if step[0] == "airflow" else ah.cli(*step[1:])
        assert result.returncode == 0, (
            f"{' '.join(step)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return ah


def table_rows(engine: Any, table: Any, **where: object) -> list[dict[str, Any]]:
    """Every row of ``table`` (equal to ``where``, column by column), in primary-key order."""
    from sqlalchemy import select

    query = select(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(*table.primary_key.columns)).mappings()
        return [dict(row) for row in rows]
