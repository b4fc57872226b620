"""``demo``: every implemented DAG family once with ``airflow dags test``, then a summary of
what each run did (from the audit log) and where its outputs are.

``airflow dags test`` takes no partition key and starts no downstream DAG, so the demo runs
the partitioned listening chain itself: ``streaming_aggregation`` once per day partition the
demo's ``listening_ingest`` stored plays for (and yesterday, the seeded history's last day),
``trend_detection`` and ``reporting`` once per finished one, ``weekly_reporting`` once per
week, each with the day in its ``day`` conf, as a developer would."""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
    "weekly_reporting",
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
# The partitioned DAGs, and which of the demo's days each runs for.
PER_DAY = {"streaming_aggregation": "any", "trend_detection": "finished", "reporting": "finished"}
PER_WEEK = ("weekly_reporting",)
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
    partition: str | None = None

    @property
    def label(self) -> str:
        return f"{self.dag_id} {self.partition}" if self.partition else self.dag_id


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
        days: list[date] = [_yesterday()]
        for dag_id in args.dags or DEMO_DAGS:
            for partition, conf in _runs_of(dag_id, days, confs.get(dag_id, {})):
                run = _dags_test(dag_id, conf, log_dir, partition)
                runs.append(run)
                if dag_id == "listening_ingest":
                    days = sorted({*days, *_partitions_stored(run.log.read_text())})
    print()
    print(demo_summary(runs))
    return 0 if all(run.state == "success" for run in runs) else 1


def _runs_of(
    dag_id: str, days: list[date], conf: dict[str, object]
) -> list[tuple[str | None, dict[str, object]]]:
    """The demo's runs of ``dag_id``: (partition, conf), one per day or week it runs for."""
    finished = [day for day in days if day < datetime.now(UTC).date()]
    if dag_id in PER_DAY:
        wanted = days if PER_DAY[dag_id] == "any" else finished
        return [(day.isoformat(), {**conf, "day": day.isoformat()}) for day in wanted]
    if dag_id in PER_WEEK:
        mondays = sorted({day - timedelta(days=day.weekday()) for day in finished})
        return [
            (f"{m} (W{m.isocalendar().week:02d})", {**conf, "day": m.isoformat()}) for m in mondays
        ]
    return [(None, conf)]


def _dags_test(
    dag_id: str, conf: dict[str, object], log_dir: Path, partition: str | None
) -> DemoRun:
    trace_id = secrets.token_hex(16)
    name = f"{dag_id}.{partition[:10]}" if partition else dag_id
    log_path = log_dir / f"{name}.log"
    said = f" for {partition}" if partition else ""
    print(
        f"running {dag_id}{said} with `airflow dags test` (log: {log_path.relative_to(project_dir())})"
    )
    started = time.monotonic()
    with log_path.open("w") as log_file:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                _airflow(),
                "dags",
                "test",
                dag_id,
                "--conf",
                json.dumps({"trace_id": trace_id, **conf}),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            check=False,
        )
    state = "success" if completed.returncode == 0 else "failed"
    # `dags test` writes no task-log files: give the UI (`make up`) the run's logs.
    task_logs = write_task_logs(dag_id, trace_id, log_path.read_text())
    print(f"  {state}; {len(task_logs)} task logs written for the UI")
    return DemoRun(dag_id, trace_id, state, time.monotonic() - started, log_path, partition)


def _partitions_stored(log_text: str) -> list[date]:
    """The day partitions a ``listening_ingest`` run announced (its ``summarise`` logs them)."""
    found = re.findall(r"partitions changed: ([0-9, -]+)", log_text)
    return [
        date.fromisoformat(key) for line in found for key in re.findall(r"\d{4}-\d\d-\d\d", line)
    ]


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


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
        f"  {'dag (partition)':<36} {'state':<8} {'tasks ok':>9} {'rows written':>13} {'secs':>6}  trace id"
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
                f"  {run.label:<36} {run.state:<8} {f'{ok}/{tasks}':>9} {rows:>13} "
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
