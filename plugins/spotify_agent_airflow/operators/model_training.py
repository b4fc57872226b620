"""Tasks of ``model_training``: train and register the candidates, then apply the gate.
The jobs are :func:`spotify_agent.ml.model_training.train_recommenders` and
:func:`spotify_agent.ml.model_training.promote_candidates`."""

from __future__ import annotations

import logging
from typing import Any

from spotify_agent.ml.confs import ModelTrainingConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.operators.common import WarehouseOperator, progress_every_s

log = logging.getLogger(__name__)


class TrainRecommenderOperator(WarehouseOperator):
    """Builds the user-track matrix of the window from ``listening_events``, trains ours, the
    ALS baseline and the popular list on the plays before the hold-out, judges them and the
    production model on the hold-out, refits the three on the whole window and registers them
    (``models/<id>/`` and ``model_registry``). A window with too little data is a recorded
    refusal; a model already registered for the same inputs is not trained again."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.ml.model_training import train_recommenders
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.context import interval_end
        from spotify_agent_airflow.metrics import emit_action_metrics
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, ModelTrainingConf)
        run = train_recommenders(
            self.warehouse_engine(),
            interval_end(context),
            conf,
            attempt_of(context),
            models=object_store_root(),
            every_s=progress_every_s(),
        )
        if run.refused:
            log.warning("model training: %s", run.summary_line())
        else:
            log.info("model training: %s", run.summary_line())
        if gauges := run.ndcg_gauges():
            emit_action_metrics(context, "model_trained", gauges)
        return run.as_dict()


class PromoteModelOperator(WarehouseOperator):
    """The gate: promotes ours only if it beats the production model and ALS on NDCG@10 (with
    no production model, the best of ours, ALS and the popular list serves), in one transaction
    with the decision and its reason on every candidate's row; updates its outlet (model
    promotions) only when the serving model changed, and is skipped otherwise."""

    def __init__(self, *, train_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_task_id = train_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from spotify_agent.ml.model_training import promote_candidates
        from spotify_agent_airflow.audit import attempt_of

        promotion = promote_candidates(
            self.warehouse_engine(),
            context["ti"].xcom_pull(task_ids=self.train_task_id) or {},
            attempt_of(context),
        )
        log.info("model promotion: %s", promotion.reason)
        if promotion.skipped:
            raise AirflowSkipException(promotion.skipped)
        result = promotion.as_dict()
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = result
        return result
