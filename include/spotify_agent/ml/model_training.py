"""The ``model_training`` job: build the window's user-track matrix from ``listening_events``,
train ours, the ALS baseline and the popular list on the plays before the hold-out, judge them
and the production model on the hold-out, refit the three on the whole window and register them
(``models/<id>/`` in the object store, a row each in ``model_registry``) with their audit row;
then the gate promotes one of them, or keeps the production model, saying why.

Idempotent: a model's id names its inputs, so a re-run with the same window, plays and settings
finds the models registered, trains nothing and says so; the gate on a serving model changes
nothing. A window with too little data is a recorded refusal naming what falls short.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from spotify_agent.core.audit import Attempt
from spotify_agent.core.numbers import format_number
from spotify_agent.core.progress import DEFAULT_EVERY_S, Progress, rounded
from spotify_agent.ml.confs import ModelTrainingConf
from spotify_agent.ml.evaluation import RankingMetrics
from spotify_agent.ml.interactions import Interactions
from spotify_agent.ml.models import AlsParams, EaseParams, new_model
from spotify_agent.ml.registry import (
    ModelIntegrityError,
    load_model,
    promote,
    record_decision,
    record_model,
    registered,
    registered_run,
    save_model,
    serving_model,
)
from spotify_agent.ml.store import plays_between
from spotify_agent.ml.training import (
    CODE_VERSION,
    Decision,
    Minimums,
    TimeSplit,
    Trained,
    TrainingParams,
    TrainingWindow,
    candidate_fits,
    data_fingerprint,
    decide,
    judge,
    model_id,
    refusal,
    time_split,
    train_candidates,
    training_key,
)
from spotify_agent.warehouse.times import midnight_utc

log = logging.getLogger(__name__)

EVALUATION = (
    "fit on [start, cutoff), judged on the tracks each user first played in [cutoff, end); "
    "weights refit on [start, end)"
)
ALREADY_JUDGED = "these models were trained and judged by an earlier run"


@dataclass(frozen=True)
class TrainingRun:
    """What a training run found: its window, data and key, then a refusal, the models an
    earlier run with the same inputs registered, or the models it registered itself."""

    window: dict[str, str]
    data_sha256: str
    run: str
    refused: str | None = None
    reused: str | None = None
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    production_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The task's return value (XCom), figures to 4 significant digits (the registry keeps
        them whole, and the gate decides on those)."""
        said: dict[str, Any] = {"window": self.window, "data_sha256": self.data_sha256,
                                "run": self.run}  # fmt: skip
        if self.refused:
            return {**said, "refused": self.refused}
        found = {**said, "candidates": rounded(self.candidates), "models": self.models}
        if self.reused:
            return {**found, "reused": self.reused}
        return {**found, "production_note": self.production_note}

    def ndcg_gauges(self) -> dict[str, float]:
        """NDCG@10 in percent of each candidate judged by this run (none when it trained none),
        to chart and alert on."""
        if self.refused or self.reused:
            return {}
        return {
            f"{kind}_ndcg_pct": round(100 * figures["ndcg"], 2)
            for kind, figures in self.candidates.items()
        }

    def summary_line(self) -> str:
        if self.refused:
            return f"no model trained for {self.window}: {self.refused}"
        if self.reused:
            return (f"{self.reused} (plays in [{self.window['start']}, {self.window['end']}), "
                    f"data {self.data_sha256[:12]})")  # fmt: skip
        said = (
            f"registered {format_number(len(self.models))} models trained on {self.days()}: "
            f"{figures_line(self.candidates, self.models)}"
        )
        return f"{said}; {self.production_note}" if self.production_note else said

    def days(self) -> str:
        """``2026-10-03 to 2026-11-01``: the window's first and last day."""
        last = datetime.fromisoformat(self.window["end"]) - timedelta(days=1)
        return f"{self.window['start'][:10]} to {last.date().isoformat()}"


@dataclass(frozen=True)
class Promotion:
    """What the gate decided: the model serving after it, the one it promoted and why."""

    reason: str
    changed: bool = False
    serving: str | None = None
    promoted: str | None = None
    previous: str | None = None

    @property
    def skipped(self) -> str | None:
        """Why the serving model did not change, when it did not."""
        return None if self.changed else self.reason

    def as_dict(self) -> dict[str, Any]:
        return {"serving": self.serving, "promoted": self.promoted, "previous": self.previous,
                "reason": self.reason}  # fmt: skip


def train_recommenders(
    engine: Engine,
    interval_end: datetime,
    conf: ModelTrainingConf,
    attempt: Attempt,
    *,
    models: Any,
    now: datetime | None = None,
    every_s: float = DEFAULT_EVERY_S,
) -> TrainingRun:
    """Train, judge and register the candidates on the whole UTC days before ``conf.until``
    (default: the day the run's interval ends in), logging the fits done every ``every_s``
    seconds. ``models`` is the object store root."""
    period = TrainingWindow.ending(
        midnight_utc(conf.until) if conf.until else interval_end,
        days=conf.window_days,
        holdout_days=conf.holdout_days,
    )
    window, params = period.as_dict(), training_params(conf)
    with engine.connect() as connection:
        before = plays_between(connection, period.start, period.cutoff)
        after = plays_between(connection, period.cutoff, period.end)
    split = time_split(before, after)
    data_sha256 = data_fingerprint(before, after)
    run = TrainingRun(window, data_sha256, training_key(params, window, data_sha256))
    why_not = refusal(split, Minimums())
    if why_not:
        _record_run(engine, attempt, "model_refused", "refused", split, run, why_not, at=now)
        return replace(run, refused=why_not)
    ours = model_id("ease", asdict(params.ease), window, data_sha256)
    with engine.connect() as connection:
        earlier = registered_run(connection, ours, run.run)
    if earlier is not None:  # the gate runs on them again, which changes nothing if it ran
        note = f"reused models {', '.join(earlier.models.values())}: same data and settings"
        _record_run(engine, attempt, "model_reused", "done", split, run, note, at=now)
        return replace(run, reused=note, candidates=earlier.candidates, models=earlier.models)
    whole = Interactions.concat(before, after)
    progress = Progress(
        f"training recommenders on {run.days()}",
        # each candidate fitted on the plays before the hold-out, then the three refitted
        candidate_fits(params) + 3,
        unit="fits",
        every_s=every_s,
        logger=log,
    )
    return _train_and_register(
        engine, models, split, whole, params, run, attempt, now=now, progress=progress
    )


def training_params(conf: ModelTrainingConf) -> TrainingParams:
    return TrainingParams(
        ease=EaseParams(
            l2=conf.l2,
            popularity_penalty=conf.popularity_penalty,
            min_listeners=conf.min_listeners,
            max_items=conf.max_items,
        ),
        als=AlsParams(
            factors=conf.als_factors, iterations=conf.als_iterations, random_state=conf.seed
        ),
    )


def _train_and_register(
    engine: Engine,
    models: Any,
    split: TimeSplit,
    whole: Interactions,
    params: TrainingParams,
    run: TrainingRun,
    attempt: Attempt,
    *,
    now: datetime | None,
    progress: Progress,
) -> TrainingRun:
    trained = train_candidates(split, params, progress=progress)
    compared: dict[str, dict[str, Any]] = {
        t.kind: {**t.metrics.as_dict(), "fit_seconds": round(t.fit_seconds, 3), "label": t.label}
        for t in trained
    }
    production, production_note = _judged_production(engine, models, split, run.window)
    if production is not None:
        compared["production"] = production
    at = now or datetime.now(UTC)
    # files first: a row in the registry has its files
    rows = []
    for candidate in trained:
        rows.append(_register_files(models, candidate, whole, compared, run, attempt, at))
        progress.advance()
    progress.finish()
    ids = {row["kind"]: row["model_id"] for row in rows}
    # each row names the run's inputs and its fellow candidates: a re-run finds them
    for row in rows:
        row["compared"] = {**compared, "run": run.run, "models": ids}
    with engine.begin() as connection:
        for row in rows:
            record_model(connection, row)
        attempt.record(
            connection,
            "model_trained",
            counts={
                "users": whole.shape[0],
                "items": whole.shape[1],
                "interactions": whole.matrix.nnz,
                "test_users": split.test_users,
                "models_registered": len(rows),
                "rows_written": len(rows),
            },
            entity_type="model",
            entity_key=ids["ease"],
            detail=figures_line(compared, ids),
            at=now,
        )
    return replace(run, candidates=compared, models=ids, production_note=production_note)


def _register_files(
    models: Any,
    candidate: Trained,
    whole: Interactions,
    compared: dict[str, dict[str, Any]],
    run: TrainingRun,
    attempt: Attempt,
    at: datetime,
) -> dict[str, Any]:
    """Refit ``candidate`` on the whole window (served weights learn from it all; the metrics
    are the hold-out fit's), save its files; returns its registry row."""
    final = new_model(candidate.kind, candidate.model.params()).fit(whole.matrix)
    identity = model_id(candidate.kind, final.params(), run.window, run.data_sha256)
    metrics = compared[candidate.kind]
    card = save_model(models, identity, final, whole.item_ids, {
        "window": run.window, "data_sha256": run.data_sha256, "metrics": metrics,
        "compared": compared, "evaluation": EVALUATION, "code_version": CODE_VERSION,
        "trained_at": at.isoformat(), "run_id": attempt.run_id,
    })  # fmt: skip
    return {
        "model_id": identity,
        "kind": candidate.kind,
        "window_start": datetime.fromisoformat(run.window["start"]),
        "cutoff": datetime.fromisoformat(run.window["cutoff"]),
        "window_end": datetime.fromisoformat(run.window["end"]),
        "params": final.params(),
        "code_version": CODE_VERSION,
        "data_sha256": run.data_sha256,
        "metrics": metrics,
        "compared": compared,
        "users": whole.shape[0],
        "items": whole.shape[1],
        "object_prefix": f"models/{identity}",
        "weights_sha256": card["weights_sha256"],
        "run_id": attempt.run_id,
        "trace_id": attempt.trace_id,
        "created_at": at,
    }


def _judged_production(
    engine: Engine, models: Any, split: TimeSplit, window: dict[str, str]
) -> tuple[dict[str, Any] | None, str]:
    """The serving model's figures on this hold-out, or None and why it could not be judged
    (the gate goes on without it, saying so)."""
    with engine.connect() as connection:
        serving = serving_model(connection)
    if serving is None:
        return None, ""
    try:
        return judge_production(models, serving, split, window), ""
    except ModelIntegrityError as error:
        note = f"the production model cannot be judged: {error}"
        log.error("%s", note)
        return None, note
    except Exception as error:  # noqa: BLE001 - the gate goes on without it, saying why
        log.exception("judging the production model failed")
        return None, f"the production model cannot be judged: {error!r}"


def judge_production(
    models: Any, serving: Mapping[str, Any], split: TimeSplit, window: dict[str, str]
) -> dict[str, Any]:
    """The serving model's metrics on this hold-out. If it learned from the hold-out (its
    window ends after this cut: a manual or overlapping window), its kind and parameters
    are refit on this run's training plays instead, so it is not judged on what it saw."""
    current = load_model(models, serving["model_id"])
    seen_until = serving["window_end"]
    if seen_until.tzinfo is None:  # SQLite hands back naive UTC
        seen_until = seen_until.replace(tzinfo=UTC)
    if seen_until <= datetime.fromisoformat(window["cutoff"]):
        metrics = judge(current.model, current.item_ids, split).as_dict()
        return {**metrics, "model_id": serving["model_id"]}
    refit = new_model(current.card["kind"], current.card["params"]).fit(split.train.matrix)
    metrics = judge(refit, split.train.item_ids, split).as_dict()
    return {**metrics, "model_id": serving["model_id"], "refit": True}


def _record_run(
    engine: Engine,
    attempt: Attempt,
    action: str,
    outcome: str,
    split: TimeSplit,
    run: TrainingRun,
    detail: str,
    *,
    at: datetime | None,
) -> None:
    with engine.begin() as connection:
        attempt.record(
            connection,
            action,
            outcome=outcome,
            counts={
                "users": split.train.shape[0],
                "items": split.train.shape[1],
                "interactions": split.train.matrix.nnz,
                "test_users": split.test_users,
            },
            entity_type="training_run",
            entity_key=run.run,
            detail=detail,
            at=at,
        )


def figures_line(compared: Mapping[str, Mapping[str, Any]], models: Mapping[str, str]) -> str:
    """``ease <id> NDCG@10 0.4630, als <id> ...``: every candidate's figure, for the audit row."""
    return ", ".join(
        f"{kind} {values.get('model_id') or models.get(kind, '')} NDCG@10 {values['ndcg']:.4f}"
        for kind, values in compared.items()
    )


def promote_candidates(
    engine: Engine,
    trained: Mapping[str, Any],
    attempt: Attempt,
    *,
    now: datetime | None = None,
) -> Promotion:
    """The gate on what :func:`train_recommenders` returned (``TrainingRun.as_dict()``): the
    decision on every candidate's row, and a promotion when the serving model changes, in one
    transaction with its audit row. A refused or reused run is not judged again."""
    if trained.get("refused"):
        return Promotion(str(trained["refused"]))
    models: dict[str, str] = dict(trained.get("models") or {})
    if not models:  # the same inputs were trained (and gated) before
        return Promotion(ALREADY_JUDGED)
    with engine.begin() as connection:
        decision = _decision(trained, _registered_figures(connection, models))
        before = serving_model(connection)
        previous = (before or {}).get("model_id")
        _record_not_served(connection, models, decision, previous)
        promoted = models.get(decision.serve or "")
        changed = promoted is not None and promoted != previous
        if changed:  # a re-run of the gate that picks the serving model changes nothing
            promote(connection, str(promoted), reason=decision.reason, at=now or datetime.now(UTC))
        attempt.record(
            connection,
            "model_promoted" if changed else "model_kept",
            counts={"candidates": len(models)},
            entity_type="model",
            entity_key=(promoted if changed else previous) or "",
            detail=decision.reason,
            at=now,
        )
        serving = registered(connection, str(promoted)) if changed else before
    return Promotion(decision.reason, changed, (serving or {}).get("model_id"),
                     promoted if changed else None, previous)  # fmt: skip


def _registered_figures(
    connection: Connection, models: Mapping[str, str]
) -> dict[str, dict[str, Any]] | None:
    """Every candidate's figures as the run registered them, unrounded: the gate decides on
    these, not on the task's rounded result, so two figures that round alike stay apart."""
    row = registered(connection, models["ease"]) if "ease" in models else None
    compared = (row or {}).get("compared") or {}
    return {k: v for k, v in compared.items() if k not in ("run", "models")} or None


def _decision(trained: Mapping[str, Any], registered: Mapping[str, Any] | None) -> Decision:
    figures = {
        kind: RankingMetrics(
            **{k: v for k, v in values.items() if k in RankingMetrics.__dataclass_fields__}
        )
        for kind, values in (registered or trained["candidates"]).items()
    }
    return decide(
        figures["ease"],
        figures["als"],
        figures["popular"],
        figures.get("production"),
        production_note=trained.get("production_note", ""),
    )


def _record_not_served(
    connection: Connection, models: Mapping[str, str], decision: Decision, previous: str | None
) -> None:
    """Every candidate but the one chosen says why not; the serving model keeps its own reason
    unless this run replaces it."""
    for kind, identity in models.items():
        if kind != decision.serve and identity != previous:
            record_decision(connection, identity, decision="not_served", reason=decision.reason)
