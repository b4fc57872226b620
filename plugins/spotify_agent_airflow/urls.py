"""URLs into this deployment's API server (light: DAG files import it at parse time)."""

from __future__ import annotations

from airflow.sdk import conf

# Where the API server serves the reports (plugin app ``reports_app``).
REPORTS_URL_PREFIX = "/reports"


def api_base_url() -> str:
    """The API server's base URL: ``[api] base_url``, else the execution API's host."""
    base = conf.get("api", "base_url", fallback="") or ""
    if base:
        return base.rstrip("/")
    execution = conf.get("core", "execution_api_server_url", fallback="") or ""
    return execution.removesuffix("/").removesuffix("/execution") or "http://localhost:8080"


def report_url(kind: str, label: str, name: str = "report.html") -> str:
    return f"{api_base_url()}{REPORTS_URL_PREFIX}/{kind}/{label}/{name}"
