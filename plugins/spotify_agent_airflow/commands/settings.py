"""``apply-settings``: airflow_settings.yaml into this Airflow, never clobbering an operator's
changes unless ``--force`` (which lists what it overwrote)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spotify_agent import project_dir


def add_parser(commands: Any) -> None:
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
