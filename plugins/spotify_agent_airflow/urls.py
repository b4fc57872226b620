"""URLs into this deployment's API server (light: DAG files import it at parse time)."""

from __future__ import annotations

from urllib.parse import urlsplit

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


def report_path(kind: str, label: str, name: str = "report.html") -> str:
    """A report's address on the API server without scheme and host (with the base URL's path
    prefix): what extra links and Asset events keep, so they follow the UI to any host or port."""
    prefix = urlsplit(api_base_url()).path.rstrip("/")
    return f"{prefix}{REPORTS_URL_PREFIX}/{kind}/{label}/{name}"


def absolute_url(path: str) -> str:
    """``path`` (from :func:`report_path`) on the configured base URL, for e-mails: built when
    the mail is sent, not when the report was."""
    base = urlsplit(api_base_url())
    return f"{base.scheme}://{base.netloc}{path}"
