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

_LABEL = {"daily": re.compile(r"\d{4}-\d{2}-\d{2}"), "weekly": re.compile(r"\d{4}-W\d{2}")}
_FILE = re.compile(r"[a-z_]+\.(html|csv)")
_MEDIA_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _reports_root() -> Any:
    from spotify_agent_airflow.object_store import object_store_root

    return object_store_root() / "reports"


@app.get("/", response_class=HTMLResponse)
def index() -> Response:
    """The latest reports, newest first."""
    root = _reports_root()
    items = []
    for kind in ("weekly", "daily"):
        folder = root / kind
        labels = sorted((p.name for p in folder.iterdir()), reverse=True) if folder.exists() else []
        links = "".join(
            f'<li><a href="{kind}/{label}/report.html">{label}</a></li>'
            for label in labels[:60]
            if _LABEL[kind].fullmatch(label)
        )
        items.append(f"<h2>{kind.capitalize()}</h2><ul>{links or '<li>none yet</li>'}</ul>")
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Listening reports</title></head>"
        f"<body style='font-family:system-ui'><h1>Listening reports</h1>{''.join(items)}</body></html>"
    )
    return HTMLResponse(page, headers=_HEADERS)


@app.get("/{kind}/{label}/{name}")
def report_file(kind: str, label: str, name: str) -> Response:
    """A report or one of its extracts, as stored."""
    if kind not in _LABEL or not _LABEL[kind].fullmatch(label) or not _FILE.fullmatch(name):
        raise HTTPException(status_code=404, detail="no such report")
    path = _reports_root() / kind / label / name
    if not path.exists():
        raise HTTPException(status_code=404, detail=f"no {name} for the {kind} report {label}")
    media_type = _MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers=_HEADERS)
