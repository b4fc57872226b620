"""One setting moves the UI/API port everywhere, and the links a run leaves behind follow the
UI to whatever host and port serve it; e-mails use the base URL configured when they are sent."""

from __future__ import annotations

import os
import subprocess

import pytest

from spotify_agent_airflow.urls import absolute_url, report_path
from tests.conftest import PROJECT_DIR

URL_VARIABLES = ("AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL",
                 "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW_PORT")  # fmt: skip


def sourced(script: str, **given: str) -> dict[str, str]:
    """The URL variables after sourcing ``script`` in a shell that had only ``given`` set."""
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES and "AIRFLOW" not in k}
    printed = subprocess.run(
        ["bash", "-c", f"{script} && env"],
        env={**env, **given},
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
    return {name: pairs.get(name, "") for name in URL_VARIABLES}


@pytest.mark.parametrize("setting", ["AIRFLOW__API__PORT", "AIRFLOW_PORT"])
@pytest.mark.parametrize(
    "script", [". scripts/env.sh", ". scripts/env.sh && . scripts/celery_env.sh"]
)
def test_one_port_setting_moves_the_server_its_tasks_and_its_links(
    script, setting, tmp_path
) -> None:
    # celery_env.sh makes its Airflow home (and a JWT secret there): not in the project folder.
    urls = sourced(script, **{setting: "9191", "CELERY_AIRFLOW_HOME": str(tmp_path)})

    assert urls["AIRFLOW__API__PORT"] == "9191"
    assert urls["AIRFLOW__API__BASE_URL"] == "http://localhost:9191"
    assert urls["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9191/execution/"


def test_a_base_url_behind_a_proxy_is_kept_as_given() -> None:
    urls = sourced(". scripts/env.sh", AIRFLOW__API__BASE_URL="https://airflow.example.com/data")

    assert urls["AIRFLOW__API__BASE_URL"] == "https://airflow.example.com/data"
    assert urls["AIRFLOW__API__PORT"] == "8080"


def test_report_links_are_paths_under_the_base_urls_prefix(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/data/")
    path = report_path("daily", "2026-11-22")

    # No host or port: the UI opens it on the host it is served from (same-origin link).
    assert path == "/data/reports/daily/2026-11-22/report.html"
    assert (
        absolute_url(path)
        == "https://airflow.example.com/data/reports/daily/2026-11-22/report.html"
    )


def test_an_e_mail_link_follows_a_base_url_changed_after_the_report_was_built(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    path = report_path("weekly", "2026-W47")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://reports.internal:9191")

    assert absolute_url(path) == "http://reports.internal:9191/reports/weekly/2026-W47/report.html"
