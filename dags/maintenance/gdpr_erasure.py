"""
### gdpr_erasure

Erases a listener's personal data from every place it lives, proves it, and keeps a receipt
that never shows who it was. Hourly, and on demand with a recorded request's id in the run conf.

* **Request** (`accept_requests`): requests are recorded in the warehouse's
  `erasure_requests` beforehand, by the backend (`spotify_agent.maintenance.erasure.record_request`
  or one SQL insert, `user_hmac` left empty) or in development by `make request-erasure
  USER_ID=...`: the raw id never enters a run conf, which every Viewer can read. The conf names a
  request by its id, `{"request_id": "..."}`; a conf with a `user_id`, or an id nobody recorded,
  fails the first task at once. Each run then takes the conf's request and up to `max_requests`
  waiting ones, oldest first; a completed request is not run again. A row whose id is not a
  Spotify user id, or whose hash was made with another key, fails its task without erasing
  anything. From the moment a request is recorded, `listening_ingest` keeps nothing new of that
  user.
* **Erase** (`erase_user`, one mapped task per request, one at a time): every store in the registry
  (`spotify_agent.maintenance.personal_data`, listed in docs/ARCHITECTURE.md): listening events
  and cursors, profile, per-listener aggregates and recommendations deleted, quarantined
  payloads naming the user deleted, audit rows' pseudonyms re-keyed, the user's recommendation
  keys deleted from Redis (where `cache_backend` is `redis`; Redis unreachable fails the
  attempt), landed event files rewritten without the user. Each store's step is recorded as it
  finishes, so a run killed midway resumes with the stores left.
* **Proof**: every store is then searched for the id; anything found fails the attempt naming
  the store (the retry erases it again). Only a clean search completes the request.
* **Receipt**: an audit row `user_erased` keyed by an HMAC of the id (key from the
  `gdpr_erasure_key` connection) with the id of that key, the stores and counts per store; an
  unknown user gets a receipt saying nothing was found. The raw id is then cleared from
  `erasure_requests`. Keys rotate (`make rotate-erasure-key`): retired keys stay in the
  connection for matching, and a key the log needs but the connection lacks fails the run naming
  it (docs/OPERATIONS.md).
* **Backups**: the HMAC also goes to the append-only erasure log (`erasure_log` and
  `gdpr/erasure-log/<request id>.json` in the object store); `make restore` replays it, so a
  restored pre-erasure backup ends without the user.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from spotify_agent.maintenance.confs import GdprErasureConf
from spotify_agent_airflow.defaults import dag_args
from spotify_agent_airflow.operators.gdpr_erasure import (
    AcceptErasureRequestsOperator,
    EraseUserOperator,
)


@dag(
    schedule="@hourly",
    **dag_args(
        GdprErasureConf, deadline=timedelta(minutes=50), execution_timeout=timedelta(hours=1)
    ),
    tags=["maintenance", "gdpr"],
    doc_md=__doc__,
)
def gdpr_erasure() -> None:
    waiting = AcceptErasureRequestsOperator(task_id="accept_requests")
    # One request at a time: each rewrites the same landed files, and two writers of one file
    # could put back what the other erased.
    EraseUserOperator.partial(task_id="erase_user", max_active_tis_per_dagrun=1).expand(
        request_id=waiting.output
    )


gdpr_erasure()
