"""Insert-or-update on a natural key, one statement, correct on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    connection: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` into ``table``; a row whose ``key`` exists updates ``update`` columns instead.

    ``key`` must match a unique constraint or primary key. ``update`` defaults to every column in
    the rows outside the key. Returns the number of rows given (inserted or updated).
    """
    rows = [dict(row) for row in rows]
    if not rows:
        return 0
    missing = [column for column in key if column not in rows[0]]
    if missing:
        raise ValueError(f"upsert into {table.name}: rows lack key columns {missing}")
    columns = list(rows[0])
    update = [column for column in (update if update is not None else columns) if column not in key]

    dialect = connection.dialect.name
    insert: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        insert = postgresql.insert(table)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
    else:
        raise NotImplementedError(f"upsert has no implementation for the {dialect} dialect")

    if update:
        statement = insert.on_conflict_do_update(
            index_elements=list(key),
            set_={column: insert.excluded[column] for column in update},
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(key))
    connection.execute(statement, rows)
    return len(rows)
