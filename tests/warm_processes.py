"""Run the `airflow` and project CLIs in new processes that start with their libraries imported.

Each `airflow dags test` of the suite used to spend about 4 of its 10 seconds importing pydantic,
SQLAlchemy, FastAPI and the rest before Airflow's own code ran. Here a forkserver (Python's
``multiprocessing``) imports those libraries once per test worker, and every command runs in a
process forked from it: a new process, with its own arguments, environment, working directory,
exit code and output, exactly as ``subprocess.run`` gives them.

Airflow itself and the project's packages are never imported ahead: they read their configuration
(``AIRFLOW_HOME``, the metadata DB, the DAG folder, metrics, tracing, Sentry) when imported, and
each command brings its own environment. Only libraries that read none of it are preloaded.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

# What `airflow dags test` imports before any of Airflow's own code can differ between runs: the
# biggest shares of its import time, measured with `python -X importtime`.
PRELOADED = (
    "aiohttp",
    "alembic",
    "anyio",
    "attrs",
    "cadwyn",
    "cryptography",
    "email_validator",
    "fastapi",
    "flask",
    "httpx",
    "jinja2",
    "libcst",
    "msgspec",
    "pendulum",
    "psutil",
    "pydantic",
    "pydantic_settings",
    "pygments",
    "rich",
    "sqlalchemy",
    "sqlalchemy.orm",
    "starlette",
    "structlog",
    "trio",
    "uvicorn",
    "werkzeug",
    "yaml",
)

_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOADED))
        _context = context
    return _context


def run(
    argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)`` for a Python
    console script (``argv[0]``) or ``python -m <module>`` (``argv[:3]``)."""
    with tempfile.TemporaryDirectory(prefix="warm-run-") as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        process = _forkserver().Process(
            target=_main, args=(argv, env, str(cwd), str(out), str(err)), daemon=False
        )
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(argv, timeout, _read(out), _read(err))
        return subprocess.CompletedProcess(argv, process.exitcode or 0, _read(out), _read(err))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _main(argv: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """The forked process: become the command, run it, exit as it would."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    code = _exit_code(argv)
    # A new interpreter runs its exit hooks (Sentry and OpenTelemetry flush there, Airflow closes
    # its database pool); multiprocessing's `os._exit` would skip them.
    try:
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exit_code(argv: list[str]) -> int:
    import runpy

    try:
        if argv[1:3] and argv[1] == "-m":
            sys.argv = [argv[2], *argv[3:]]
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - an uncaught error ends a Python process with 1
        traceback.print_exc()
        return 1
    return 0
