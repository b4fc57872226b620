"""The model_training job without Airflow, on each warehouse backend: the three candidates are
registered with their files and figures, audited for the attempt, and the best serves; a re-run
with the same inputs trains nothing and the gate leaves it alone; a window with too little data
is refused naming what falls short; a tampered production model is named, not judged."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from spotify_agent.core.audit import Attempt
from spotify_agent.core.progress import round_significant
from spotify_agent.ml.confs import ModelTrainingConf
from spotify_agent.ml.model_training import (
    ALREADY_JUDGED,
    promote_candidates,
    train_recommenders,
)
from spotify_agent.ml.registry import load_model
from spotify_agent.ml.synthetic import scene_listening
from spotify_agent.warehouse.schema import audit_log, listening_events, model_registry

ATTEMPT = Attempt("model_training", "manual__job-test", "ab" * 16, task_id="train",
                  try_number=1)  # fmt: skip
UNTIL = date(2026, 11, 2)
END = datetime(UNTIL.year, UNTIL.month, UNTIL.day, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
CONF = ModelTrainingConf(until=UNTIL, window_days=30, min_listeners=3, als_iterations=5)
EVENTS = scene_listening(users=80, plays_per_user=30, end=END, days=30, seed=3)


def _plant(engine, events=EVENTS) -> None:
    with engine.begin() as connection:
        connection.execute(listening_events.insert(), events)


def _models(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(model_registry)).mappings()
        return {row["model_id"]: dict(row) for row in rows}


def _audits(engine, action: str) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def _train(engine, root, conf=CONF, **kwargs):
    return train_recommenders(engine, NOW, conf, ATTEMPT, models=root, now=NOW, **kwargs)


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _floats(item)


def test_the_candidates_are_registered_with_their_files_and_the_best_serves(
    warehouse, tmp_path
) -> None:
    _plant(warehouse)

    run = _train(warehouse, tmp_path)
    promotion = promote_candidates(warehouse, run.as_dict(), ATTEMPT, now=NOW)

    models = _models(warehouse)
    assert sorted(row["kind"] for row in models.values()) == ["als", "ease", "popular"]
    assert run.models == {row["kind"]: mid for mid, row in models.items()}
    for mid, row in models.items():
        loaded = load_model(tmp_path, mid)
        assert loaded.card["metrics"]["ndcg"] == row["metrics"]["ndcg"]
        assert loaded.card["run_id"] == row["run_id"] == ATTEMPT.run_id
        assert row["window_end"].date() == UNTIL and row["trace_id"] == ATTEMPT.trace_id
    [trained] = _audits(warehouse, "model_trained")
    assert (trained["task_id"], trained["try_number"]) == ("train", 1)
    assert trained["entity_key"] == run.models["ease"]
    assert trained["counts"]["models_registered"] == 3 and trained["counts"]["users"] == 80
    for mid, row in models.items():
        assert f"{row['kind']} {mid} NDCG@10 {row['metrics']['ndcg']:.4f}" in trained["detail"]
    assert set(run.ndcg_gauges()) == {"ease_ndcg_pct", "als_ndcg_pct", "popular_ndcg_pct"}
    best = max(models.values(), key=lambda row: row["metrics"]["ndcg"])
    assert promotion.skipped is None and promotion.promoted == best["model_id"]
    serving = [row for row in _models(warehouse).values() if row["serving"]]
    assert [row["model_id"] for row in serving] == [promotion.serving] == [best["model_id"]]
    assert [row["entity_key"] for row in _audits(warehouse, "model_promoted")] == [best["model_id"]]
    assert promotion.as_dict() == {"serving": best["model_id"], "promoted": best["model_id"],
                                   "previous": None, "reason": promotion.reason}  # fmt: skip


def test_a_re_run_with_the_same_inputs_reuses_the_models_and_changes_nothing(
    warehouse, tmp_path
) -> None:
    _plant(warehouse)
    first = _train(warehouse, tmp_path)
    promote_candidates(warehouse, first.as_dict(), ATTEMPT, now=NOW)
    before = _models(warehouse)

    again = _train(warehouse, tmp_path)
    gate = promote_candidates(warehouse, again.as_dict(), ATTEMPT, now=NOW)

    assert _models(warehouse) == before
    ids = ", ".join(first.models[kind] for kind in ("ease", "als", "popular"))
    assert again.reused == f"reused models {ids}: same data and settings"
    assert again.as_dict() == {**{k: v for k, v in first.as_dict().items()
                                  if k != "production_note"}, "reused": again.reused}  # fmt: skip
    assert again.ndcg_gauges() == {}
    [reused] = _audits(warehouse, "model_reused")
    assert reused["detail"] == again.reused and reused["entity_key"] == first.run
    # the gate ran on the first run: the same decision again keeps the serving model
    assert gate.skipped == gate.reason and gate.promoted is None
    assert len(_audits(warehouse, "model_trained")) == 1


def test_a_window_with_too_little_data_is_refused_naming_the_shortfalls(
    warehouse, tmp_path
) -> None:
    _plant(warehouse, scene_listening(users=12, plays_per_user=5, end=END, days=30, seed=3))

    objects = tmp_path / "objects"
    objects.mkdir()

    run = _train(warehouse, objects)
    gate = promote_candidates(warehouse, run.as_dict(), ATTEMPT, now=NOW)

    assert run.refused is not None and run.refused.startswith("too little data: ")
    assert "12 users (at least 20)" in run.refused and "test users" in run.refused
    assert set(run.as_dict()) == {"window", "data_sha256", "run", "refused"}
    assert _models(warehouse) == {} and list(objects.iterdir()) == []
    [refused] = _audits(warehouse, "model_refused")
    assert (refused["outcome"], refused["detail"]) == ("refused", run.refused)
    assert gate.skipped == run.refused and _audits(warehouse, "model_kept") == []


def test_a_tampered_production_model_is_named_and_the_gate_goes_on(warehouse, tmp_path) -> None:
    _plant(warehouse)
    first = _train(warehouse, tmp_path)
    promote_candidates(warehouse, first.as_dict(), ATTEMPT, now=NOW)
    serving = next(row for row in _models(warehouse).values() if row["serving"])
    weights = tmp_path / serving["object_prefix"] / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])

    run = _train(warehouse, tmp_path, CONF.model_copy(update={"l2": 7.0}))
    gate = promote_candidates(warehouse, run.as_dict(), ATTEMPT, now=NOW)

    assert run.production_note.startswith("the production model cannot be judged")
    assert "weights.pt has SHA-256" in run.production_note
    assert "production" not in run.candidates
    assert run.production_note in gate.reason
    gated = _audits(warehouse, "model_promoted") + _audits(warehouse, "model_kept")
    assert gated[-1]["detail"] == gate.reason


def test_no_models_to_judge_is_a_named_skip(warehouse) -> None:
    assert promote_candidates(warehouse, {"models": {}}, ATTEMPT).skipped == ALREADY_JUDGED
    with warehouse.connect() as connection:
        assert connection.execute(select(audit_log)).first() is None


@pytest.mark.parametrize("field", ["refused", "reused"])
def test_only_a_run_that_trained_has_gauges(field: str) -> None:
    from spotify_agent.ml.model_training import TrainingRun

    run = TrainingRun({}, "d" * 64, "run-x", candidates={"ease": {"ndcg": 0.5}})
    assert run.ndcg_gauges() == {"ease_ndcg_pct": 50.0}
    assert TrainingRun({}, "d", "r", **{field: "why"}).ndcg_gauges() == {}


def test_training_logs_its_fits_as_it_goes_and_returns_rounded_figures(
    warehouse, tmp_path, caplog
) -> None:
    _plant(warehouse)
    caplog.set_level(logging.INFO, logger="spotify_agent.ml.model_training")

    run = _train(warehouse, tmp_path, every_s=0)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("training")]
    name = "training recommenders on 2026-10-03 to 2026-11-01"
    # ours, ALS for each of 3 alphas, the popular list; then the three refitted on the window
    assert lines[0] == f"{name}: starting, 8 fits"
    assert [line.split(" (")[0] for line in lines[1:-1]] == [
        f"{name}: {n} of 8 fits" for n in range(1, 9)
    ]
    assert "(50%)" in lines[4] and "left" in lines[4]
    assert lines[-1].startswith(f"{name}: done, 8 fits in ")
    assert run.summary_line().startswith(
        f"registered 3 models trained on 2026-10-03 to 2026-11-01: ease {run.models['ease']} "
        "NDCG@10 0."
    )
    # The result keeps 4 significant digits; the registry keeps the figures whole.
    result = run.as_dict()
    figures = list(_floats(result["candidates"]))
    assert figures and all(value == round_significant(value) for value in figures)
    ease = result["candidates"]["ease"]["ndcg"]
    stored = _models(warehouse)[run.models["ease"]]["metrics"]["ndcg"]
    assert ease == round_significant(stored) and stored == run.candidates["ease"]["ndcg"]


def test_the_gate_decides_on_the_registered_figures_not_the_rounded_result(
    warehouse, tmp_path
) -> None:
    _plant(warehouse)
    run = _train(warehouse, tmp_path)
    result = run.as_dict()
    # Whatever the task's result says (rounded, or altered on its way), the registry decides.
    result["candidates"] = {kind: {**figures, "ndcg": 0.0}
                            for kind, figures in result["candidates"].items()}  # fmt: skip

    promotion = promote_candidates(warehouse, result, ATTEMPT, now=NOW)

    best = max(_models(warehouse).values(), key=lambda row: row["metrics"]["ndcg"])
    assert promotion.promoted == best["model_id"]
    assert f"{best['metrics']['ndcg']:.4f}" in promotion.reason
