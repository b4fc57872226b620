"""Tasks of ``model_training``: train and register the candidates, then apply the gate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator

from spotify_agent.ml.confs import ModelTrainingConf
from spotify_agent_airflow.conf import read_conf

log = logging.getLogger(__name__)


class TrainRecommenderOperator(BaseOperator):
    """Builds the user-track matrix of the window from ``listening_events``, trains ours, the
    ALS baseline and the popular list on the plays before the hold-out, judges them and the
    production model on the hold-out, refits the three on the whole window and registers them
    (``models/<id>/`` and ``model_registry``). A window with too little data is a recorded
    refusal; a model already registered for the same inputs is not trained again."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.ml.models import AlsParams, EaseParams
        from spotify_agent.ml.store import plays_between
        from spotify_agent.ml.training import (
            Minimums,
            TrainingParams,
            TrainingWindow,
            data_fingerprint,
            refusal,
            time_split,
            training_key,
        )
        from spotify_agent.warehouse.times import midnight_utc
        from spotify_agent_airflow.context import interval_end
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, ModelTrainingConf)
        # Whole UTC days before the run's day: every run of one day reads the same plays.
        period = TrainingWindow.ending(
            midnight_utc(conf.until) if conf.until else interval_end(context),
            days=conf.window_days,
            holdout_days=conf.holdout_days,
        )
        window = period.as_dict()
        params = TrainingParams(
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
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            before = plays_between(connection, period.start, period.cutoff)
            after = plays_between(connection, period.cutoff, period.end)
        split = time_split(before, after)
        data_sha256 = data_fingerprint(before, after)
        run_key = training_key(params, window, data_sha256)
        summary: dict[str, Any] = {"window": window, "data_sha256": data_sha256, "run": run_key}
        why_not = refusal(split, Minimums())
        if why_not:
            self._audit(context, engine, "model_refused", "refused", split, run_key, why_not)
            log.warning("no model trained for %s: %s", window, why_not)
            return {**summary, "refused": why_not}
        reused = self._reuse(context, engine, split, params, window, data_sha256, run_key)
        if reused is not None:
            return {**summary, **reused}
        trained = self._train(
            context, engine, split, before, after, params, window, data_sha256, run_key
        )
        return {**summary, **trained}

    def _reuse(
        self,
        context: Any,
        engine: Any,
        split: Any,
        params: Any,
        window: dict[str, str],
        data_sha256: str,
        run_key: str,
    ) -> dict[str, Any] | None:
        """What an earlier run with every same input registered, said and audited (the gate
        then runs on it again, which changes nothing if it ran before); None: train."""
        from dataclasses import asdict

        from spotify_agent.ml.registry import registered_run
        from spotify_agent.ml.training import model_id

        ours = model_id("ease", asdict(params.ease), window, data_sha256)
        with engine.connect() as connection:
            earlier = registered_run(connection, ours, run_key)
        if earlier is None:
            return None
        ids = ", ".join(earlier.models.values())
        note = f"reused models {ids}: same data and settings"
        log.info("%s (plays in [%s, %s), data %s)", note, window["start"], window["end"],
                 data_sha256[:12])  # fmt: skip
        self._audit(context, engine, "model_reused", "done", split, run_key, note)
        return {"candidates": earlier.candidates, "models": earlier.models, "reused": note}

    def _train(
        self,
        context: Any,
        engine: Any,
        split: Any,
        before: Any,
        after: Any,
        params: Any,
        window: dict[str, str],
        data_sha256: str,
        run_key: str,
    ) -> dict[str, Any]:
        from spotify_agent.ml.interactions import Interactions
        from spotify_agent.ml.models import new_model
        from spotify_agent.ml.registry import (
            ModelIntegrityError,
            record_model,
            save_model,
            serving_model,
        )
        from spotify_agent.ml.training import model_id, train_candidates
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.metrics import emit_action_metrics
        from spotify_agent_airflow.object_store import object_store_root

        root = object_store_root()
        trained = train_candidates(split, params)
        compared: dict[str, dict[str, Any]] = {
            t.kind: {
                **t.metrics.as_dict(),
                "fit_seconds": round(t.fit_seconds, 3),
                "label": t.label,
            }
            for t in trained
        }
        production_note = ""
        with engine.connect() as connection:
            serving = serving_model(connection)
        if serving is not None:
            try:
                compared["production"] = self._judge_production(root, serving, split, window)
            except ModelIntegrityError as error:
                production_note = f"the production model cannot be judged: {error}"
                log.error(production_note)
            except Exception as error:  # noqa: BLE001 - the gate goes on without it, saying why
                production_note = f"the production model cannot be judged: {error!r}"
                log.exception("judging the production model failed")
        # Served weights learn from the whole window; the metrics are the hold-out fit's.
        whole = Interactions.concat(before, after)
        ref = run_ref(context)
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for candidate in trained:  # files first: a row in the registry has its files
            final = new_model(candidate.kind, candidate.model.params()).fit(whole.matrix)
            identity = model_id(candidate.kind, final.params(), window, data_sha256)
            card = save_model(
                root,
                identity,
                final,
                whole.item_ids,
                {
                    "window": window,
                    "data_sha256": data_sha256,
                    "metrics": compared[candidate.kind],
                    "compared": compared,
                    "evaluation": "fit on [start, cutoff), judged on the tracks each user first "
                    "played in [cutoff, end); weights refit on [start, end)",
                    "code_version": _code_version(),
                    "trained_at": now.isoformat(),
                    "run_id": ref.run_id,
                },
            )
            rows.append(
                {
                    "model_id": identity,
                    "kind": candidate.kind,
                    "window_start": datetime.fromisoformat(window["start"]),
                    "cutoff": datetime.fromisoformat(window["cutoff"]),
                    "window_end": datetime.fromisoformat(window["end"]),
                    "params": final.params(),
                    "code_version": _code_version(),
                    "data_sha256": data_sha256,
                    "metrics": compared[candidate.kind],
                    "compared": compared,
                    "users": whole.shape[0],
                    "items": whole.shape[1],
                    "object_prefix": f"models/{identity}",
                    "weights_sha256": card["weights_sha256"],
                    "run_id": ref.run_id,
                    "trace_id": ref.trace_id,
                    "created_at": now,
                }
            )
        registered_ids = {row["kind"]: row["model_id"] for row in rows}
        # each row names the run's inputs and its fellow candidates: a re-run finds them
        for row in rows:
            row["compared"] = {**compared, "run": run_key, "models": registered_ids}
        with engine.begin() as connection:
            for row in rows:
                record_model(connection, row)
            audit_action(
                connection,
                context,
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
                entity_key=registered_ids["ease"],
                detail=_figures(compared, registered_ids),
            )
        # NDCG@10 in percent: a gauge per candidate, to chart and alert on
        emit_action_metrics(
            context,
            "model_trained",
            {
                f"{kind}_ndcg_pct": round(100 * figures["ndcg"], 2)
                for kind, figures in compared.items()
            },
        )
        for kind, figures in compared.items():
            log.info("%s: %s", kind, figures)
        return {
            "candidates": compared,
            "models": registered_ids,
            "production_note": production_note,
        }

    def _judge_production(
        self, root: Any, serving: dict[str, Any], split: Any, window: dict[str, str]
    ) -> dict[str, Any]:
        """The serving model's metrics on this hold-out. If it learned from the hold-out (its
        window ends after this cut: a manual or overlapping window), its kind and parameters
        are refit on this run's training plays instead, so it is not judged on what it saw."""
        from spotify_agent.ml.models import new_model
        from spotify_agent.ml.registry import load_model
        from spotify_agent.ml.training import judge

        current = load_model(root, serving["model_id"])
        seen_until = serving["window_end"]
        if seen_until.tzinfo is None:  # SQLite hands back naive UTC
            seen_until = seen_until.replace(tzinfo=UTC)
        if seen_until <= datetime.fromisoformat(window["cutoff"]):
            metrics = judge(current.model, current.item_ids, split).as_dict()
            return {**metrics, "model_id": serving["model_id"]}
        refit = new_model(current.card["kind"], current.card["params"]).fit(split.train.matrix)
        metrics = judge(refit, split.train.item_ids, split).as_dict()
        return {**metrics, "model_id": serving["model_id"], "refit": True}

    def _audit(
        self,
        context: Any,
        engine: Any,
        action: str,
        outcome: str,
        split: Any,
        key: str,
        detail: str,
    ) -> None:
        from spotify_agent_airflow.audit import audit_action

        with engine.begin() as connection:
            audit_action(
                connection,
                context,
                action,
                outcome=outcome,
                counts={
                    "users": split.train.shape[0],
                    "items": split.train.shape[1],
                    "interactions": split.train.matrix.nnz,
                    "test_users": split.test_users,
                },
                entity_type="training_run",
                entity_key=key,
                detail=detail,
            )


class PromoteModelOperator(BaseOperator):
    """The gate: promotes ours only if it beats the production model and ALS on NDCG@10 (with
    no production model, the best of ours, ALS and the popular list serves), in one transaction
    with the decision and its reason on every candidate's row; updates its outlet (model
    promotions) only when the serving model changed, and is skipped otherwise."""

    def __init__(
        self, *, train_task_id: str, warehouse_conn_id: str = "warehouse_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.train_task_id = train_task_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent.ml.evaluation import RankingMetrics
        from spotify_agent.ml.registry import promote, record_decision, registered, serving_model
        from spotify_agent.ml.training import decide
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        trained = context["ti"].xcom_pull(task_ids=self.train_task_id) or {}
        if trained.get("refused"):
            raise AirflowSkipException(trained["refused"])
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        models: dict[str, str] = trained.get("models") or {}
        if not models:  # the same inputs were trained (and gated) before
            raise AirflowSkipException("these models were trained and judged by an earlier run")
        figures = {
            kind: RankingMetrics(
                **{k: v for k, v in values.items() if k in RankingMetrics.__dataclass_fields__}
            )
            for kind, values in trained["candidates"].items()
        }
        decision = decide(
            figures["ease"],
            figures["als"],
            figures["popular"],
            figures.get("production"),
            production_note=trained.get("production_note", ""),
        )
        now = datetime.now(UTC)
        with engine.begin() as connection:
            before = serving_model(connection)
            for kind, identity in models.items():
                # the serving model keeps its own reason unless this run replaces it
                if kind != decision.serve and identity != (before or {}).get("model_id"):
                    record_decision(
                        connection, identity, decision="not_served", reason=decision.reason
                    )
            previous = (before or {}).get("model_id")
            promoted = models.get(decision.serve or "")
            changed = promoted is not None and promoted != previous
            if changed:  # a re-run of the gate that picks the serving model changes nothing
                promote(connection, str(promoted), reason=decision.reason, at=now)
            audit_action(
                connection,
                context,
                "model_promoted" if changed else "model_kept",
                counts={"candidates": len(models)},
                entity_type="model",
                entity_key=(promoted if changed else previous) or "",
                detail=decision.reason,
            )
            serving = registered(connection, str(promoted)) if changed else before
        log.info("%s", decision.reason)
        result = {
            "serving": (serving or {}).get("model_id"),
            "promoted": promoted if changed else None,
            "previous": previous,
            "reason": decision.reason,
        }
        if not changed:
            raise AirflowSkipException(decision.reason)
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = result
        return result


def _code_version() -> str:
    from spotify_agent.ml.training import CODE_VERSION

    return CODE_VERSION


def _figures(compared: dict[str, dict[str, Any]], models: dict[str, str]) -> str:
    """``ease <id> NDCG@10 0.4630, als <id> ...``: every candidate's figure, for the audit row."""
    return ", ".join(
        f"{kind} {values.get('model_id') or models.get(kind, '')} NDCG@10 {values['ndcg']:.4f}"
        for kind, values in compared.items()
    )
