from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.migrate import current_revision, downgrade, head_revision, upgrade
from spotify_agent.warehouse.schema import metadata


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    assert upgrade(engine) == (None, head_revision())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_upgrade_is_a_no_op_the_second_time_and_downgrade_removes_everything(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    assert upgrade(engine) == (head_revision(), head_revision())
    downgrade(engine, "base")
    with engine.connect() as connection:
        assert current_revision(connection) is None
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    engine.dispose()
