"""What `make test` needs, checked in its first seconds instead of learnt after a long run.

Standard library only: it runs before `.venv` exists, with the Python that will create it.
Each missing piece is named with the command that gets it, all in one message. Chromium and its
driver, and promtool (Debian's prometheus package, which checks the shipped Prometheus config and
runs the dashboard's queries), are installed the way `.ci/run` installs them (Debian's packages)
where this user may (root, or sudo without a password); everything else is only checked:
starting a database server is the operator's call.

    python3 scripts/preflight.py            # exit 0: ready; exit 1: what is missing and how
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("PREFLIGHT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PREFLIGHT_CHROMEDRIVER", "/usr/bin/chromedriver")
PROMTOOL = os.environ.get("PREFLIGHT_PROMTOOL", "promtool")
PYTHON = (3, 11)
APT_CHROMIUM = "apt-get install -y --no-install-recommends chromium chromium-driver"
APT_PROMTOOL = "apt-get install -y --no-install-recommends prometheus"


@dataclass(frozen=True)
class Missing:
    what: str
    fix: str


def check_python(executable: str) -> list[Missing]:
    found = _run([executable, "-c", "import sys; print(*sys.version_info[:2])"])
    version = tuple(int(part) for part in found.split()) if found else None
    if version == PYTHON:
        return []
    wanted = ".".join(map(str, PYTHON))
    return [
        Missing(
            f"Python {wanted} (found {'.'.join(map(str, version)) if version else 'none'} "
            f"at {executable})",
            f"install Python {wanted} (python3.{PYTHON[1]}) or run `make test PYTHON=/path/to/python3.{PYTHON[1]}`",
        )
    ]


def check_postgres(url: str) -> list[Missing]:
    parts = urlsplit(url.replace("+psycopg2", ""))
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    problems = []
    if not _listening(host, port):
        problems.append(
            Missing(
                f"PostgreSQL at {host}:{port} (TEST_POSTGRES_URL)",
                "`sudo apt-get install postgresql && sudo systemctl start postgresql`, "
                "or `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15`",
            )
        )
    client = _major(_run(["pg_dump", "--version"]))
    if client is None or not all(shutil.which(tool) for tool in ("pg_restore", "psql")):
        problems.append(
            Missing(
                "PostgreSQL's client tools (pg_dump, pg_restore, psql) on the PATH",
                "sudo apt-get install postgresql-client",
            )
        )
    if problems:
        return problems
    libpq = parts._replace(scheme="postgresql").geturl()
    answer = _run(["psql", "-XtAc", "SHOW server_version_num", unquote(libpq)])
    if not answer.strip().isdigit():
        return [
            Missing(
                f"a PostgreSQL login for {parts.username or 'postgres'} that may create databases",
                "allow it from 127.0.0.1 (pg_hba.conf) or set TEST_POSTGRES_URL with a password",
            )
        ]
    server = int(answer) // 10000
    if client is not None and client < server:
        return [
            Missing(
                f"pg_dump {client} is older than the PostgreSQL {server} server",
                f"install postgresql-client-{server}, or run a PostgreSQL {client} server",
            )
        ]
    return []


def check_redis(url: str) -> list[Missing]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=3) as connection:
            connection.sendall(b"PING\r\n")
            if connection.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                return []
    except OSError:
        pass
    return [
        Missing(
            f"Redis at {host}:{port} (TEST_REDIS_URL)",
            "`sudo apt-get install redis-server`, or `docker run -d -p 6379:6379 redis:7`",
        )
    ]


def check_chromium(chromium: str, chromedriver: str, *, may_install: bool) -> list[Missing]:
    if not _executable(chromium) or not _executable(chromedriver):
        if may_install and _apt_install(APT_CHROMIUM, "chromium and chromium-driver"):
            return check_chromium(chromium, chromedriver, may_install=False)
        return [
            Missing(
                f"Chromium and its driver ({chromium}, {chromedriver}) for the UI test",
                f"sudo {APT_CHROMIUM}",
            )
        ]
    browser = _major(_run([chromium, "--version"]))
    driver = _major(_run([chromedriver, "--version"]))
    if browser != driver:
        return [
            Missing(
                f"a chromedriver of Chromium's version (chromium {browser}, chromedriver {driver})",
                f"sudo {APT_CHROMIUM} (the same Debian release for both)",
            )
        ]
    return []


def check_promtool(promtool: str, *, may_install: bool) -> list[Missing]:
    """promtool (Prometheus' checker): the monitoring tests run the shipped config and the
    dashboard's queries through it."""
    if _run([promtool, "--version"]):
        return []
    if may_install and _apt_install(APT_PROMTOOL, "promtool (Debian's prometheus package)"):
        return check_promtool(promtool, may_install=False)
    return [
        Missing(
            f"promtool ({promtool}) for the monitoring tests (monitoring/)",
            f"sudo {APT_PROMTOOL}",
        )
    ]


def _apt_install(command: str, what: str) -> bool:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if not shutil.which("apt-get"):
        return False
    print(f"preflight: installing {what}", flush=True)
    result = subprocess.run(  # noqa: S603 - a fixed apt-get command line
        [*sudo, *command.split()],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stdout[-1500:] + result.stderr[-1500:], file=sys.stderr)
    return result.returncode == 0


def _may_install() -> bool:
    if os.environ.get("PREFLIGHT_NO_INSTALL"):
        return False
    if os.geteuid() == 0:
        return True
    return shutil.which("sudo") is not None and _run(["sudo", "-n", "true"], ok_only=True) == "ok"


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _major(version_line: str) -> int | None:
    found = re.search(r"(\d+)(?:\.\d+)+", version_line)
    return int(found.group(1)) if found else None


def _run(argv: list[str], *, ok_only: bool = False) -> str:
    try:
        # Fixed tool names and version flags, never input from outside.
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if ok_only:
        return "ok" if result.returncode == 0 else ""
    return result.stdout if result.returncode == 0 else ""


def main(python: str) -> int:
    missing = [
        *check_python(python),
        *check_postgres(POSTGRES_URL),
        *check_redis(REDIS_URL),
        *check_chromium(CHROMIUM, CHROMEDRIVER, may_install=_may_install()),
        *check_promtool(PROMTOOL, may_install=_may_install()),
    ]
    if not missing:
        print(
            "preflight: Python, PostgreSQL, pg_dump, Redis, Chromium, chromedriver and promtool ready"
        )
        return 0
    lines = [f"make test cannot run yet; {len(missing)} thing(s) missing:"]
    lines += [f"  - {item.what}\n      get it: {item.fix}" for item in missing]
    lines.append("See README.md, 'Services for the tests'.")
    print("\n".join(lines), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else sys.executable))
