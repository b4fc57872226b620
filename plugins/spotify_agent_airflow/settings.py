"""Apply ``airflow_settings.yaml`` to a plain (non-Astro) Airflow's metadata database.

It creates what does not exist and never clobbers what an operator configured: a connection,
pool or variable that exists and differs from the file is reported and left as it is, unless
``force`` (``apply-settings --force``), which overwrites it and says what it overwrote. Re-applying
an unchanged file reports no change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from spotify_agent.core.settings_file import AirflowSettings, ConnectionSpec


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Exists and differs from the file: left as the operator set it (no --force).
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.kept)} kept as configured, {len(self.unchanged)} unchanged"
            + (f" (created: {', '.join(self.created)})" if self.created else "")
        )

    def details(self) -> list[str]:
        lines = [f"overwrote {name} with the file's value (--force)" for name in self.updated]
        lines += [
            f"{name} differs from the file: left as configured (--force overwrites it)"
            for name in self.kept
        ]
        return lines


def apply_settings(settings: AirflowSettings, *, force: bool = False) -> ApplyReport:
    # Writing to the metadata DB is an admin task: it needs Airflow's ORM models, not the Task SDK.
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    report = ApplyReport()
    with create_session() as session:
        for spec in settings.connections:
            wanted = _connection_fields(spec)
            existing = (
                session.query(Connection).filter(Connection.conn_id == spec.conn_id).one_or_none()
            )
            name = f"connection {spec.conn_id}"
            if existing is None:
                session.add(Connection(conn_id=spec.conn_id, **wanted))
                report.created.append(name)
            elif _connection_differs(existing, wanted):
                if force:
                    for key, value in wanted.items():
                        setattr(existing, key, value)
                (report.updated if force else report.kept).append(name)
            else:
                report.unchanged.append(name)

        for pool_spec in settings.pools:
            pool = session.query(Pool).filter(Pool.pool == pool_spec.pool_name).one_or_none()
            name = f"pool {pool_spec.pool_name}"
            description = pool_spec.pool_description or ""
            if pool is None:
                session.add(
                    Pool(
                        pool=pool_spec.pool_name,
                        slots=pool_spec.pool_slot,
                        description=description,
                        include_deferred=False,
                    )
                )
                report.created.append(name)
            elif (pool.slots, pool.description or "") != (pool_spec.pool_slot, description):
                if force:
                    pool.slots, pool.description = pool_spec.pool_slot, description
                (report.updated if force else report.kept).append(name)
            else:
                report.unchanged.append(name)

        for variable_spec in settings.variables:
            key, value = variable_spec.variable_name, variable_spec.as_text()
            variable = session.query(Variable).filter(Variable.key == key).one_or_none()
            name = f"variable {key}"
            if variable is None:
                session.add(Variable(key=key, val=value))  # type: ignore[no-untyped-call]
                report.created.append(name)
            elif variable.val != value:
                if force:
                    variable.val = value
                (report.updated if force else report.kept).append(name)
            else:
                report.unchanged.append(name)
    return report


def _connection_fields(spec: ConnectionSpec) -> dict[str, Any]:
    return {
        "conn_type": spec.conn_type,
        # An empty ${VAR:-} means "not set", not an empty credential.
        "host": spec.conn_host or None,
        "schema": spec.conn_schema or None,
        "login": spec.conn_login or None,
        "password": spec.conn_password or None,
        "port": spec.conn_port,
        "extra": json.dumps(spec.conn_extra, sort_keys=True) if spec.conn_extra else None,
        "description": spec.conn_description or None,
    }


def _connection_differs(existing: Any, wanted: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        if key == "extra":
            # Compare the parsed extras: key order and spacing in stored JSON do not matter.
            current, value = existing.extra_dejson or None, json.loads(value) if value else None
        else:
            current = getattr(existing, key)
        if (current or None) != (value or None):
            return True
    return False
