"""The service backend's client for Airflow's REST API: trigger a DAG run, once, and wait for it.

    client = AirflowClient("http://airflow:8080", username="backend", password=secret)
    run = client.trigger("gdpr_erasure", {"request_id": request_id}, run_id=f"dsr-{request_id}")
    run = client.wait(run)  # DagRun(state="success", ...)

The caller chooses ``run_id`` (from its own request id), so a retried request never starts a
second run: Airflow answers 409 for a run id it knows, and :meth:`AirflowClient.trigger` returns
that run instead (``created=False``), after checking it was asked with the same conf. Runs are
triggered with ``logical_date: null``, as Airflow 3 expects of runs that are not scheduled. A conf
the DAG's Params refuse raises :class:`ConfRefused` naming the field, and no run exists; a conf
holding NaN or an infinity (which JSON cannot carry and Params cannot refuse) raises
:class:`UnsendableConf` naming the field before anything is sent.

The same with curl::

    TOKEN=$(curl -s -X POST "$AIRFLOW/auth/token" -H 'Content-Type: application/json' \\
      -d '{"username": "backend", "password": "..."}' | jq -r .access_token)
    curl -X POST "$AIRFLOW/api/v2/dags/gdpr_erasure/dagRuns" -H "Authorization: Bearer $TOKEN" \\
      -H 'Content-Type: application/json' \\
      -d '{"dag_run_id": "dsr-42", "logical_date": null, "conf": {"request_id": "dsr-42"}}'
    curl "$AIRFLOW/api/v2/dags/gdpr_erasure/dagRuns/dsr-42" -H "Authorization: Bearer $TOKEN"
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx

from spotify_agent.core.run_conf import NOT_FINITE, non_finite_fields

FINISHED = frozenset({"success", "failed"})


class AirflowApiError(RuntimeError):
    """Airflow answered with an error: ``status`` and its ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"Airflow answered {status}: {detail}")
        self.status = status
        self.detail = detail


class ConfRefused(AirflowApiError):
    """The DAG's Params refused the conf (the detail names the field); no run was created."""


class UnsendableConf(ValueError):
    """The conf holds what JSON cannot carry (NaN, an infinity); nothing was sent."""


class RunIdTaken(AirflowApiError):
    """The run id exists with another conf: a different request reused the id."""


class RunNotFinished(TimeoutError):
    """The run did not finish in the time allowed (the message says if the DAG is paused)."""


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str
    conf: dict[str, Any] = field(default_factory=dict)
    created: bool = True  # False when the run id already existed (a repeated request)
    note: str | None = None
    partition_key: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class AirflowClient:
    """Typed calls to ``/auth/token`` and ``/api/v2``; the token is fetched once and again
    when it expires."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def token(self) -> str:
        if self._token is None:
            answer = self._http.post("/auth/token", json=self._credentials)
            if answer.status_code not in (200, 201):
                raise AirflowApiError(answer.status_code, _detail(answer))
            self._token = str(answer.json()["access_token"])
        return self._token

    def trigger(
        self,
        dag_id: str,
        conf: Mapping[str, Any],
        *,
        run_id: str,
        note: str | None = None,
        partition_key: str | None = None,
    ) -> DagRun:
        """Start ``dag_id`` with ``conf`` as ``run_id``; the existing run if ``run_id`` was
        started before with the same conf. ``partition_key`` names the partition of a
        partitioned DAG (``"2026-11-20"`` for a day of the listening chain)."""
        non_finite = non_finite_fields(dict(conf))
        if non_finite:
            # Python's json would send a bare NaN, which is not JSON; Params cannot refuse it.
            raise UnsendableConf(
                f"conf for {dag_id}: " + "; ".join(f"{path}: {NOT_FINITE}" for path in non_finite)
            )
        body: dict[str, Any] = {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf)}
        if note is not None:
            body["note"] = note
        if partition_key is not None:
            body["partition_key"] = partition_key
        answer = self.request("POST", f"/api/v2/dags/{_seg(dag_id)}/dagRuns", json=body)
        if answer.status_code == 409:
            existing = self.get_run(dag_id, run_id)
            if existing.conf != dict(conf):
                raise RunIdTaken(
                    409, f"run {run_id!r} of {dag_id} exists with another conf: {existing.conf}"
                )
            return replace(existing, created=False)
        if answer.status_code in (400, 422):
            raise ConfRefused(answer.status_code, _detail(answer))
        return _run(_ok(answer), created=True)

    def get_run(self, dag_id: str, run_id: str) -> DagRun:
        answer = self.request("GET", f"/api/v2/dags/{_seg(dag_id)}/dagRuns/{_seg(run_id)}")
        return _run(_ok(answer), created=True)

    def wait(self, run: DagRun, *, timeout_s: float = 3600.0, poll_s: float = 2.0) -> DagRun:
        """Poll until the run succeeds or fails; :class:`RunNotFinished` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        current = run
        while not current.finished:
            if time.monotonic() >= deadline:
                paused = self.is_paused(run.dag_id)
                raise RunNotFinished(
                    f"{run.dag_id} run {run.run_id} is still {current.state} after "
                    f"{timeout_s:g} s" + (" (the DAG is paused: unpause it)" if paused else "")
                )
            self._sleep(poll_s)
            current = replace(self.get_run(run.dag_id, run.run_id), created=run.created)
        return current

    def is_paused(self, dag_id: str) -> bool:
        return bool(_ok(self.request("GET", f"/api/v2/dags/{_seg(dag_id)}")).get("is_paused"))

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause ``dag_id`` (a new DAG is paused until someone unpauses it)."""
        _ok(self.request("PATCH", f"/api/v2/dags/{_seg(dag_id)}", json={"is_paused": paused}))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{_seg(dag_id)}/dagRuns/{_seg(run_id)}/taskInstances"
        return list(_ok(self.request("GET", path))["task_instances"])

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any ``/api/v2`` call, authenticated (a token refused as expired is renewed once)."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}"}
            answer = self._http.request(method, path, headers=headers, **kwargs)
            if answer.status_code == 401 and attempt == 1:
                self._token = None  # expired: log in again, once
                continue
            return answer
        return answer


def _run(body: Mapping[str, Any], *, created: bool) -> DagRun:
    return DagRun(
        dag_id=str(body["dag_id"]),
        run_id=str(body["dag_run_id"]),
        state=str(body.get("state") or ""),
        conf=dict(body.get("conf") or {}),
        created=created,
        note=body.get("note"),
        partition_key=body.get("partition_key"),
    )


def _ok(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code >= 400:
        raise AirflowApiError(answer.status_code, _detail(answer))
    return dict(answer.json())


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:2000]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return str(detail)[:2000]


def _seg(value: str) -> str:
    """One path segment: run ids may hold ``:``, ``+`` or ``/``."""
    return quote(value, safe="")
