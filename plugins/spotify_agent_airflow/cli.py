"""Project commands for plain (non-Astro) Airflow: ``python -m spotify_agent_airflow.cli --help``.

Run them with the project's environment (``. scripts/env.sh``); the Makefile does. Each command
lives in its own module under ``commands/``; this one only assembles the parser.
"""

from __future__ import annotations

import argparse
import sys

from spotify_agent_airflow.commands import demo, erasure, restore, settings, warehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spotify_agent_airflow.cli", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    settings.add_parser(commands)
    warehouse.add_parser(commands)
    demo.add_parser(commands)
    restore.add_parser(commands)
    erasure.add_parsers(commands)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
