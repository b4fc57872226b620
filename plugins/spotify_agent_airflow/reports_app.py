"""The reports, served by the Airflow API server at ``/reports`` to signed-in users.

The report task's extra link and the e-mails point here, so a person opens a report with the
same login as the Airflow UI (the UI's ``_token`` cookie, or a Bearer token), wherever the object
store is. Mounted by ``SpotifyAgentPlugin.fastapi_apps``; only the API server imports this.
"""

from __future__ import annotations

import re
from typing import Any

# About a second to import: only the API server imports this module.
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

app = FastAPI(title="Spotify agent listening reports", docs_url=None, redoc_url=None)

_LABEL = {"daily": re.compile(r"^\d{4}-\d{2}-\d{2}$"), "weekly": re.compile(r"^\d{4}-W\d{2}$")}
_FILE = re.compile(r"^[a-z_]+\.(html|csv)$")
_MEDIA_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _reports_root() -> Any:
    from spotify_agent_airflow.object_store import object_store_root

    return object_store_root() / "reports"


@app.get("/", response_class=HTMLResponse)
def index(user: GetUserDep) -> str:
    """The latest reports, newest first."""
    root = _reports_root()
    items = []
    for kind in ("weekly", "daily"):
        folder = root / kind
        labels = sorted((p.name for p in folder.iterdir()), reverse=True) if folder.exists() else []
        links = "".join(
            f'<li><a href="{kind}/{label}/report.html">{label}</a></li>'
            for label in labels[:60]
            if _LABEL[kind].match(label)
        )
        items.append(f"<h2>{kind.capitalize()}</h2><ul>{links or '<li>none yet</li>'}</ul>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Listening reports</title></head>"
        f"<body style='font-family:system-ui'><h1>Listening reports</h1>{''.join(items)}</body></html>"
    )


@app.get("/{kind}/{label}/{name}")
def report_file(kind: str, label: str, name: str, user: GetUserDep) -> Response:
    """A report or one of its extracts, as stored."""
    if kind not in _LABEL or not _LABEL[kind].match(label) or not _FILE.match(name):
        raise HTTPException(status_code=404, detail="no such report")
    path = _reports_root() / kind / label / name
    if not path.exists():
        raise HTTPException(status_code=404, detail=f"no {name} for the {kind} report {label}")
    return Response(path.read_bytes(), media_type=_MEDIA_TYPES[name.rsplit(".", 1)[1]])
