"""The reports, served by the Airflow API server at ``/reports`` to signed-in users.

The report task's extra link and the e-mails point here, so a person opens a report with the
same login as the Airflow UI (the UI's ``_token`` cookie, or a Bearer token), wherever the object
store is, with the right to read the ``reporting`` DAG. Mounted by
``SpotifyAgentPlugin.fastapi_apps``; only the API server imports this. Files are served with a
content security policy that lets a report do nothing but show itself (no script, no fetch).
"""

from __future__ import annotations

import re
from typing import Any

# About a second to import: only the API server imports this module.
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from spotify_agent.analytics.report_index import LABELS, render_index

REPORTING_DAG_ID = "reporting"
# Reading the reports is reading the reporting DAG's output: the same permission as its runs.
app = FastAPI(
    title="Spotify agent listening reports",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    dependencies=[Depends(requires_access_dag("GET", param_dag_id=REPORTING_DAG_ID))],
)
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-cache",
}

_FILE = re.compile(r"[a-z_]+\.(html|csv)")
_MEDIA_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _reports_root() -> Any:
    from spotify_agent_airflow.object_store import object_store_root

    return object_store_root() / "reports"


@app.get("/", response_class=HTMLResponse)
def index() -> Response:
    """Every report, newest first, daily then weekly, with its headline figures."""
    return HTMLResponse(render_index(_reports_root()), headers=_HEADERS)


@app.get("/{kind}/{label}/{name}")
def report_file(kind: str, label: str, name: str) -> Response:
    """A report or one of its extracts, as stored."""
    if kind not in LABELS or not LABELS[kind].fullmatch(label) or not _FILE.fullmatch(name):
        raise HTTPException(status_code=404, detail="no such report")
    path = _reports_root() / kind / label / name
    if not path.exists():
        raise HTTPException(status_code=404, detail=f"no {name} for the {kind} report {label}")
    media_type = _MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers=_HEADERS)
