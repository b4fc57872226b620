"""``demo``: every implemented DAG family once with ``airflow dags test``, then a summary of
what each run did (from the audit log) and where its outputs are."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spotify_agent import project_dir
from spotify_agent_airflow.commands import demo_setup, warehouse_url_outside_tasks
from spotify_agent_airflow.commands.demo_logs import write_task_logs

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
# How many of the emulator's artists the demo adds to the watch list.
DEMO_WATCHED_ARTISTS = 25
# The demo keeps the emulator user's first playlist equal to their most played tracks.
DEMO_PLAYLIST_SIZE = 20


def add_parser(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run every implemented family once and summarise")
    demo.add_argument("dags", nargs="*", help=f"DAG ids (default: {' '.join(DEMO_DAGS)})")
    demo.set_defaults(func=cmd_demo)


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
    with demo_setup.spotify_emulator(log_dir) as emulated:
        if emulated.artist_ids:  # synthetic data only beside the emulator, never a real account
            _seed_demo_data()
        confs: dict[str, dict[str, object]] = {}
        if emulated.artist_ids:
            confs["artist_monitoring"] = {
                "add_artist_ids": emulated.artist_ids[:DEMO_WATCHED_ARTISTS]
            }
        # The demo has nobody to answer the approval request; a real deployment keeps it on.
        confs["content_generation"] = {"require_approval": False}
        confs["gdpr_erasure"] = {"request_id": demo_setup.record_demo_erasure()}
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
            # `dags test` writes no task-log files: give the UI (`make up`) the run's logs.
            task_logs = write_task_logs(dag_id, trace_id, log_path.read_text())
            print(f"  {state}; {len(task_logs)} task logs written for the UI")
            runs.append(DemoRun(dag_id, trace_id, state, time.monotonic() - started, log_path))
    print()
    print(demo_summary(runs))
    return 0 if all(run.state == "success" for run in runs) else 1


def _seed_demo_data() -> None:
    seeded = demo_setup.seed_demo_history()
    if seeded:
        print(
            f"seeded {seeded} days of synthetic listening history (spotify_agent.analytics.demo_history)"
        )
    audio = demo_setup.seed_demo_audio()
    if audio:
        print(
            f"wrote {audio} synthetic audio files under audio/ (spotify_agent.ml.audio.synthetic)"
        )


def demo_summary(runs: list[DemoRun]) -> str:
    from sqlalchemy import func, select

    from spotify_agent.warehouse.schema import audit_log, metadata
    from spotify_agent_airflow.hooks.warehouse import shared_engine
    from spotify_agent_airflow.object_store import DEFAULT_OBJECT_STORE_URL
    from spotify_agent_airflow.urls import api_base_url

    url = warehouse_url_outside_tasks()
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
        else f"All runs succeeded. `make up` serves the same setup at {api_base_url()}.",
    ]
    return "\n".join(lines)


def _airflow() -> str:
    return str(Path(sys.executable).with_name("airflow"))
