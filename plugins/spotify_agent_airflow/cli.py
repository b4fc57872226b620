"""Project commands for plain (non-Astro) Airflow: ``python -m spotify_agent_airflow.cli --help``.

Run them with the project's environment (``. scripts/env.sh``); the Makefile does.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from spotify_agent import project_dir
from spotify_agent_airflow.commands import erasure, restore

# The DAG families `make demo` runs, in dependency order. A new family adds itself here.
DEMO_DAGS: tuple[str, ...] = (
    "health_check",
    "listening_ingest",
    "streaming_aggregation",
    "trend_detection",
    "reporting",
    "model_training",
    "recommendation_update",
    "audio_analysis",
    "artist_monitoring",
    "playlist_update",
    "content_generation",
    "backup",
    "gdpr_erasure",
    "log_rotation",
)
# A listener who never used the demo: the erasure completes with a receipt saying nothing was found.
# Its request id is fixed, so a second demo finds the request completed and erases nothing again.
DEMO_ERASED_USER = "demo.former-listener"
DEMO_ERASURE_REQUEST = "demo-former-listener"
# How many of the emulator's artists the demo adds to the watch list.
DEMO_WATCHED_ARTISTS = 25
# Tracks of the emulator's catalogue the demo gives synthetic audio (the last one silent).
DEMO_AUDIO_TRACKS = 12
# The demo keeps the emulator user's first playlist equal to their most played tracks.
DEMO_PLAYLIST_SIZE = 20


def cmd_apply_settings(args: argparse.Namespace) -> int:
    from spotify_agent.core.settings_file import SettingsError, load_settings
    from spotify_agent_airflow.settings import apply_settings

    try:
        settings = load_settings(Path(args.file))
    except SettingsError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 2
    report = apply_settings(settings, force=args.force)
    print(f"applied {args.file}: {report.summary()}")
    for line in report.details():
        print(f"  {line}")
    return 0


def _warehouse_url(conn_id: str) -> URL:
    """The warehouse URL from outside a task: connections come from the metadata DB or secrets."""
    from airflow.models.connection import Connection

    from spotify_agent_airflow.hooks.warehouse import warehouse_url

    return warehouse_url(Connection.get_connection_from_secrets(conn_id))


def cmd_migrate_warehouse(args: argparse.Namespace) -> int:
    import logging

    from spotify_agent.warehouse.migrate import upgrade

    # Alembic narrates every step at INFO; the one-line result below says what happened.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from spotify_agent_airflow.hooks.warehouse import shared_engine

    url = _warehouse_url(args.conn_id)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = shared_engine(url)
    before, after = upgrade(engine)
    where = url.render_as_string(hide_password=True)
    if before == after:
        print(f"warehouse {where}: already at {after}")
    else:
        print(f"warehouse {where}: migrated {before or 'empty'} -> {after}")
    return _stamp_erasure_log(engine)


def _stamp_erasure_log(engine: Any) -> int:
    """Give erasure-log entries written before key ids the current key's id (migration 0015)."""
    from spotify_agent.maintenance.erasure import referenced_key_ids, stamp_legacy_entries
    from spotify_agent_airflow.commands import keyring_outside_tasks, object_store_outside_tasks

    with engine.connect() as connection:
        if None not in referenced_key_ids(connection):
            return 0
    keyring = keyring_outside_tasks()
    if keyring.current is None:
        print("erasure-log entries predate key ids; configure gdpr_erasure_key and run again")
        return 1
    with engine.begin() as connection:
        stamped = stamp_legacy_entries(connection, object_store_outside_tasks()[0], keyring=keyring)
    print(f"stamped {stamped} erasure-log entries and requests with key {keyring.current_id}")
    return 0


@dataclass
class DemoRun:
    dag_id: str
    trace_id: str
    state: str
    seconds: float
    log: Path


def cmd_demo(args: argparse.Namespace) -> int:
    log_dir = project_dir() / "var" / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    seeded = _seed_demo_history()
    if seeded:
        print(
            f"seeded {seeded} days of synthetic listening history (spotify_agent.analytics.demo_history)"
        )
    audio = _seed_demo_audio()
    if audio:
        print(
            f"wrote {audio} synthetic audio files under audio/ (spotify_agent.ml.audio.synthetic)"
        )
    with _spotify_emulator(log_dir) as emulated:
        confs: dict[str, dict[str, object]] = {}
        if emulated.artist_ids:
            confs["artist_monitoring"] = {
                "add_artist_ids": emulated.artist_ids[:DEMO_WATCHED_ARTISTS]
            }
        # The demo has nobody to answer the approval request; a real deployment keeps it on.
        confs["content_generation"] = {"require_approval": False}
        confs["gdpr_erasure"] = {"request_id": _record_demo_erasure()}
        if emulated.own_playlist_ids:
            confs["playlist_update"] = {
                "manage": [
                    {
                        "playlist_id": emulated.own_playlist_ids[0],
                        "rule": "most_played",
                        "size": DEMO_PLAYLIST_SIZE,
                    }
                ]
            }
        for dag_id in args.dags or DEMO_DAGS:
            trace_id = secrets.token_hex(16)
            conf = {"trace_id": trace_id, **confs.get(dag_id, {})}
            log_path = log_dir / f"{dag_id}.log"
            print(
                f"running {dag_id} with `airflow dags test` (log: {log_path.relative_to(project_dir())})"
            )
            started = time.monotonic()
            with log_path.open("w") as log_file:
                completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
                    [_airflow(), "dags", "test", dag_id, "--conf", json.dumps(conf)],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            state = "success" if completed.returncode == 0 else "failed"
            runs.append(DemoRun(dag_id, trace_id, state, time.monotonic() - started, log_path))
    print()
    print(demo_summary(runs))
    return 0 if all(run.state == "success" for run in runs) else 1


@dataclass(frozen=True)
class EmulatedSpotify:
    """What the demo needs from the emulator; empty when a real Spotify app is configured."""

    artist_ids: list[str]
    own_playlist_ids: list[str]


@contextmanager
def _spotify_emulator(log_dir: Path) -> Iterator[EmulatedSpotify]:
    """Start the bundled Spotify emulator where ``spotify_default`` expects it (on loopback).

    Yields the emulator's artist ids and the connection user's playlists, or nothing when the
    connection points elsewhere (a real Spotify app): the demo then uses the existing watch list
    and managed playlists.
    """
    from urllib.parse import urlsplit

    from airflow.models.connection import Connection

    host = Connection.get_connection_from_secrets("spotify_default").host or ""
    address = urlsplit(host)
    if address.hostname not in ("127.0.0.1", "localhost") or address.port is None:
        print(f"spotify_default points at {host or 'api.spotify.com'}: not starting the emulator")
        yield EmulatedSpotify([], [])
        return
    base = f"http://{address.hostname}:{address.port}"
    command = [
        sys.executable,
        "-m",
        "spotify_emulator",
        "serve",
        "--host",
        address.hostname,
    ]
    command += ["--port", str(address.port), "--seed", "42"]
    with (log_dir / "spotify_emulator.log").open("w") as log_file:
        emulator = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            artist_ids = _wait_for_emulator(base, emulator)
            print(
                f"Spotify emulator on {base} ({len(artist_ids)} artists; log: var/demo/spotify_emulator.log)"
            )
            yield EmulatedSpotify(artist_ids, _own_playlist_ids(base))
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)


def _wait_for_emulator(
    base: str, process: subprocess.Popen[bytes], timeout_s: float = 30
) -> list[str]:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"the Spotify emulator exited (is port {base} taken?); see var/demo/spotify_emulator.log"
            )
        try:
            response = httpx.get(f"{base}/_emulator/catalog/artists", timeout=2)
            if response.status_code == 200:
                return list(response.json()["ids"])
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the Spotify emulator did not answer on {base} within {timeout_s:.0f} s")


def _own_playlist_ids(base: str) -> list[str]:
    """The playlists of the connection's user, asked through the Web API like any client."""
    import httpx
    from airflow.models.connection import Connection

    connection = Connection.get_connection_from_secrets("spotify_default")
    token = httpx.post(
        f"{base}/api/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": connection.extra_dejson.get("refresh_token", ""),
        },
        auth=(connection.login or "", connection.password or ""),
        timeout=10,
    )
    token.raise_for_status()
    page = httpx.get(
        f"{base}/v1/me/playlists?limit=50",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    page.raise_for_status()
    return [playlist["id"] for playlist in page.json()["items"]]


def _record_demo_erasure() -> str:
    """The demo's erasure request, recorded as the backend would: the run conf names only it."""
    from datetime import UTC, datetime

    from spotify_agent.maintenance.erasure import record_request
    from spotify_agent_airflow.commands import keyring_outside_tasks
    from spotify_agent_airflow.hooks.warehouse import shared_engine

    with shared_engine(_warehouse_url("warehouse_default")).begin() as connection:
        request_id, _ = record_request(
            connection,
            user_id=DEMO_ERASED_USER,
            keyring=keyring_outside_tasks(),
            requested_by="demo",
            trace_id=secrets.token_hex(16),
            at=datetime.now(UTC),
            request_id=DEMO_ERASURE_REQUEST,
        )
    return request_id


def _seed_demo_history() -> int:
    """Five weeks of finished days before today, once, of the emulator's tracks (the demo
    starts it with seed 42), the most played first."""
    from datetime import UTC, datetime, timedelta

    from spotify_agent.analytics.demo_history import SeedTrack, seed_history
    from spotify_agent_airflow.hooks.warehouse import shared_engine
    from spotify_emulator.config import CatalogSpec
    from spotify_emulator.testing import build_catalog

    catalog = build_catalog(CatalogSpec(seed=42))
    tracks = sorted(catalog.tracks.values(), key=lambda track: (-track.weight, track.id))
    catalogue = [
        SeedTrack(
            t.id, t.artist_ids[0], catalog.artists[t.artist_ids[0]].name, t.name, t.duration_ms
        )
        for t in tracks
    ]
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with shared_engine(_warehouse_url("warehouse_default")).begin() as connection:
        return seed_history(connection, last_day=yesterday, catalogue=catalogue)


def _seed_demo_audio() -> int:
    """Synthetic music for the most played tracks of the emulator's catalogue, once, in a local
    object store (a real store holds real audio)."""
    from spotify_agent import resolve_project_path
    from spotify_agent.ml.audio.synthetic import demo_library
    from spotify_agent_airflow.object_store import DEFAULT_OBJECT_STORE_URL
    from spotify_emulator.config import CatalogSpec
    from spotify_emulator.testing import build_catalog

    url = os.environ.get("OBJECT_STORE_URL", DEFAULT_OBJECT_STORE_URL)
    if "://" in url and not url.startswith("file://"):
        return 0
    folder = resolve_project_path(url.removeprefix("file://"))
    if (folder / "audio").exists():
        return 0
    catalog = build_catalog(CatalogSpec(seed=42))
    tracks = sorted(catalog.tracks.values(), key=lambda track: (-track.weight, track.id))
    objects = demo_library([track.id for track in tracks[:DEMO_AUDIO_TRACKS]])
    for key, data in objects.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return len(objects)


def demo_summary(runs: list[DemoRun]) -> str:
    from sqlalchemy import func, select

    from spotify_agent.warehouse.schema import audit_log, metadata
    from spotify_agent_airflow.hooks.warehouse import shared_engine
    from spotify_agent_airflow.object_store import DEFAULT_OBJECT_STORE_URL

    url = _warehouse_url("warehouse_default")
    lines = ["spotify-agent demo summary", ""]
    lines.append(
        f"  {'dag':<24} {'state':<8} {'tasks ok':>9} {'rows written':>13} {'secs':>6}  trace id"
    )
    with shared_engine(url).connect() as connection:
        for run in runs:
            attempts = connection.execute(
                select(audit_log.c.task_id, audit_log.c.outcome).where(
                    audit_log.c.trace_id == run.trace_id, audit_log.c.action == "task_attempt"
                )
            ).all()
            # A skipped task did what the run asked (e.g. no approval step in the demo).
            ok = sum(1 for attempt in attempts if attempt.outcome in ("success", "skipped"))
            tasks = len({attempt.task_id for attempt in attempts})
            rows = sum(
                int((counts or {}).get("rows_written", 0))
                for (counts,) in connection.execute(
                    select(audit_log.c.counts).where(
                        audit_log.c.trace_id == run.trace_id, audit_log.c.action != "task_attempt"
                    )
                )
            )
            lines.append(
                f"  {run.dag_id:<24} {run.state:<8} {f'{ok}/{tasks}':>9} {rows:>13} "
                f"{run.seconds:>6.1f}  {run.trace_id}"
            )
        totals = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }
    root = project_dir()
    lines += [
        "",
        "Outputs:",
        f"  warehouse      {url.render_as_string(hide_password=True)}",
        "                 " + ", ".join(f"{name} {count} rows" for name, count in totals.items()),
        f"  object store   {os.environ.get('OBJECT_STORE_URL', DEFAULT_OBJECT_STORE_URL)}",
        f"  airflow home   {os.environ.get('AIRFLOW_HOME', root / 'var' / 'airflow')}",
        f"  run logs       {root / 'var' / 'demo'}",
        "",
        "Failed runs: read the run log above; the last lines name the failing component or field."
        if any(run.state != "success" for run in runs)
        else "All runs succeeded. `make up` serves the same setup at http://localhost:8080.",
    ]
    return "\n".join(lines)


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spotify_agent_airflow.cli", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)

    apply = commands.add_parser(
        "apply-settings", help="apply airflow_settings.yaml to this Airflow"
    )
    apply.add_argument("--file", default=str(project_dir() / "airflow_settings.yaml"))
    apply.add_argument(
        "--force",
        action="store_true",
        help="overwrite connections, pools and variables that differ from the file (listed)",
    )
    apply.set_defaults(func=cmd_apply_settings)

    migrate = commands.add_parser("migrate-warehouse", help="run the warehouse migrations")
    migrate.add_argument("--conn-id", default="warehouse_default")
    migrate.set_defaults(func=cmd_migrate_warehouse)

    demo = commands.add_parser("demo", help="run every implemented family once and summarise")
    demo.add_argument("dags", nargs="*", help=f"DAG ids (default: {' '.join(DEMO_DAGS)})")
    demo.set_defaults(func=cmd_demo)

    restore.add_parser(commands)
    erasure.add_parsers(commands)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
