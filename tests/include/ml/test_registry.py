"""The registry: files that check themselves, and one serving model at a time (both backends)."""

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import select

from spotify_agent.ml.models import EaseParams, EaseRecommender
from spotify_agent.ml.registry import (
    ModelIntegrityError,
    load_model,
    promote,
    record_model,
    registered,
    registered_run,
    save_model,
    serving_model,
)
from spotify_agent.ml.store import plays_between
from spotify_agent.ml.synthetic import scene_listening
from spotify_agent.ml.training import (
    TrainingParams,
    TrainingWindow,
    data_fingerprint,
    model_id,
    training_key,
)
from spotify_agent.warehouse.schema import listening_events, model_registry

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def fitted() -> tuple[EaseRecommender, np.ndarray]:
    rng = np.random.default_rng(0)
    matrix = sp.csr_matrix((rng.random((30, 8)) > 0.5).astype(np.float32))
    return EaseRecommender(EaseParams(min_listeners=1)).fit(matrix), np.array(list("abcdefgh"))


def test_a_saved_model_loads_with_its_ids_card_and_scores(tmp_path):
    model, items = fitted()

    card = save_model(tmp_path, "ease-1", model, items, {"metrics": {"ndcg": 0.3}})
    loaded = load_model(tmp_path, "ease-1")

    assert list(loaded.item_ids) == list(items)
    assert loaded.card == card and card["metrics"] == {"ndcg": 0.3} and card["kind"] == "ease"
    history = sp.csr_matrix(np.eye(8, dtype=np.float32)[:2])
    np.testing.assert_array_equal(loaded.model.scores(history), model.scores(history))


@pytest.mark.parametrize("name", ["weights.pt", "items.json"])
def test_a_changed_or_truncated_file_is_refused_by_name(tmp_path, name):
    model, items = fitted()
    save_model(tmp_path, "ease-1", model, items, {})
    path = tmp_path / "models" / "ease-1" / name
    path.write_bytes(path.read_bytes()[:-3])

    with pytest.raises(ModelIntegrityError, match=f"ease-1: {name} has SHA-256"):
        load_model(tmp_path, "ease-1")


def test_a_missing_model_is_named(tmp_path):
    with pytest.raises(ModelIntegrityError, match="ease-404"):
        load_model(tmp_path, "ease-404")


def row(model_id: str) -> dict:
    return {
        "model_id": model_id, "kind": "ease", "window_start": NOW, "cutoff": NOW,
        "window_end": NOW, "params": {}, "code_version": "t", "data_sha256": "d",
        "metrics": {"ndcg": 0.1}, "compared": {}, "users": 1, "items": 1,
        "object_prefix": f"models/{model_id}", "weights_sha256": "w", "decision": None,
        "reason": None, "run_id": "r", "trace_id": "0" * 32, "created_at": NOW,
    }  # fmt: skip


def test_one_model_serves_at_a_time_and_re_recording_does_not_demote_it(warehouse):
    with warehouse.begin() as connection:
        record_model(connection, row("m1"))
        record_model(connection, row("m2"))
        promote(connection, "m1", reason="first", at=NOW)
    with warehouse.begin() as connection:
        promote(connection, "m2", reason="better", at=NOW)
        record_model(connection, {**row("m2"), "run_id": "again"})
    with warehouse.connect() as connection:
        serving = serving_model(connection)
        assert serving["model_id"] == "m2" and serving["reason"] == "better"
        assert serving["run_id"] == "again"
        assert registered(connection, "m1")["serving"] is False


def _a_training_run(warehouse, at: datetime, params: TrainingParams) -> tuple[str, bool]:
    """What the train task decides at ``at``: its key, and whether it registers anything."""
    window = TrainingWindow.ending(at, days=30, holdout_days=7)
    with warehouse.connect() as connection:
        data = data_fingerprint(plays_between(connection, window.start, window.cutoff),
                                plays_between(connection, window.cutoff, window.end))  # fmt: skip
    key = training_key(params, window.as_dict(), data)
    ours = model_id("ease", asdict(params.ease), window.as_dict(), data)
    with warehouse.begin() as connection:
        if registered_run(connection, ours, key) is not None:
            return key, False
        compared = {"ease": {"ndcg": 0.1}, "run": key, "models": {"ease": ours}}
        record_model(connection, {**row(ours), "data_sha256": data, "compared": compared})
    return key, True


def test_a_second_training_the_same_day_finds_the_first_ones_models(warehouse):
    with warehouse.begin() as connection:
        connection.execute(listening_events.insert(), scene_listening(end=NOW, days=30, seed=3))
    params = TrainingParams()
    morning = _a_training_run(warehouse, NOW + timedelta(hours=3, minutes=12), params)
    evening = _a_training_run(warehouse, NOW + timedelta(hours=17), params)
    other_settings = _a_training_run(warehouse, NOW + timedelta(hours=18),
                                     TrainingParams(als_alphas=(1.0,)))  # fmt: skip

    assert morning[1] is True and evening == (morning[0], False)
    assert other_settings[1] is True and other_settings[0] != morning[0]
    with warehouse.connect() as connection:
        rows = connection.execute(select(model_registry.c.model_id)).scalars().all()
    # ALS settings do not change ours' id: the row is refreshed, not added
    assert len(rows) == 1
    # the next day's window holds other plays: new data, a new key
    assert _a_training_run(warehouse, NOW + timedelta(days=1), params)[0] != morning[0]
