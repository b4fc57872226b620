"""model_training end to end on listening with a known taste structure: the candidates are
registered with their files and figures, the best serves, a re-run trains nothing, a tampered
production model is named, too little data and bad conf are refused by name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.ml.registry import load_model
from spotify_agent.ml.synthetic import scene_listening, scene_of
from spotify_agent.warehouse.schema import audit_log, listening_events, model_registry
from tests.grafana_dashboard import assert_queries_return_data, panel_queries
from tests.receivers import StatsdReceiver, run_statsd_receiver
from tests.statsd_mapping import assert_every_line_maps

UNTIL = date(2026, 11, 2)
END = datetime(UNTIL.year, UNTIL.month, UNTIL.day, tzinfo=UTC)
CONF = {"until": UNTIL.isoformat(), "window_days": 60, "min_listeners": 3}


@pytest.fixture(scope="module")
def warehouse(airflow_home):
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.begin() as connection:
        connection.execute(listening_events.insert(), scene_listening(end=END, days=60, seed=5))
    yield engine
    engine.dispose()


def _models(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(model_registry)).mappings()
        return {row["model_id"]: dict(row) for row in rows}


def _audits(engine, *actions: str) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log).where(audit_log.c.action.in_(actions)).order_by(audit_log.c.id)
        ).mappings()
        return [dict(row) for row in rows]


@pytest.fixture(scope="module")
def statsd() -> Iterator[StatsdReceiver]:
    """What the module's first run sends to statsd (only that run is pointed at it)."""
    with run_statsd_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def first_run(airflow_home, warehouse, statsd):
    result = airflow_home.dags_test("model_training", CONF, extra_env=statsd.env())
    assert result.returncode == 0, result.stdout[-4000:]
    return _models(warehouse)


def test_every_candidate_is_registered_with_its_files_and_the_best_serves(
    airflow_home, first_run
) -> None:
    assert sorted(row["kind"] for row in first_run.values()) == ["als", "ease", "popular"]
    serving = [row for row in first_run.values() if row["serving"]]
    assert len(serving) == 1
    best = max(first_run.values(), key=lambda row: row["metrics"]["ndcg"])
    assert serving[0]["model_id"] == best["model_id"]
    assert serving[0]["decision"] == "promoted" and "NDCG@10" in serving[0]["reason"]
    for row in first_run.values():
        assert row["window_end"].date() == UNTIL
        loaded = load_model(airflow_home.objects_path, row["model_id"])
        assert loaded.card["metrics"]["ndcg"] == row["metrics"]["ndcg"]
        assert loaded.card["code_version"] == row["code_version"]
        assert set(loaded.card["compared"]) == {"ease", "als", "popular"}
        assert row["decision"] in ("promoted", "not_served")
    # ours learned the scenes: far above the popular list
    by_kind = {row["kind"]: row for row in first_run.values()}
    assert by_kind["ease"]["metrics"]["ndcg"] > 2 * by_kind["popular"]["metrics"]["ndcg"]


def test_the_serving_model_recommends_a_listener_their_own_scene(airflow_home, first_run):
    import numpy as np
    import scipy.sparse as sp

    serving = next(row for row in first_run.values() if row["serving"])
    loaded = load_model(airflow_home.objects_path, serving["model_id"])
    if serving["kind"] == "popular":
        pytest.fail(f"the popular list won on data with a taste structure: {serving['reason']}")
    items = list(loaded.item_ids)
    heard = [items.index(track) for track in items if scene_of(track) == 2][:4]
    history = sp.csr_matrix((np.full(4, 5.0), ([0] * 4, heard)), shape=(1, len(items)))
    scores = loaded.model.scores(history)[0]
    scores[heard] = -np.inf
    best = [items[i] for i in np.argsort(-scores)[:5]]
    assert [scene_of(track) for track in best] == [2] * 5


def test_training_is_audited_with_every_candidates_figures(warehouse, first_run) -> None:
    [trained] = _audits(warehouse, "model_trained")
    ours = next(mid for mid, row in first_run.items() if row["kind"] == "ease")
    assert trained["entity_key"] == ours
    assert trained["counts"]["models_registered"] == 3 and trained["counts"]["users"] == 300
    for mid, row in first_run.items():
        assert f"{row['kind']} {mid} NDCG@10 {row['metrics']['ndcg']:.4f}" in trained["detail"]
    promoted = _audits(warehouse, "model_promoted")
    assert [row["entity_key"] for row in promoted] == [
        mid for mid, row in first_run.items() if row["serving"]
    ]


def test_every_models_ndcg_reaches_the_dashboard(first_run, statsd, tmp_path) -> None:
    series = assert_every_line_maps(statsd.lines)
    ndcg = {s.labels["model"]: s.value for s in series if s.name == "spotify_agent_model_ndcg_pct"}
    assert set(ndcg) >= {"ease", "als", "popular"}
    assert_queries_return_data(panel_queries("NDCG@10 x 100 by model"), series, tmp_path)


def test_a_re_run_with_the_same_inputs_trains_nothing(airflow_home, warehouse, first_run):
    result = airflow_home.dags_test("model_training", CONF)
    assert result.returncode == 0, result.stdout[-4000:]
    assert _models(warehouse) == first_run
    assert len(_audits(warehouse, "model_reused")) == 1


def test_a_run_later_the_same_day_reuses_the_models_and_says_so(airflow_home, warehouse,
                                                                first_run):  # fmt: skip
    """No ``until``: the window ends at 00:00 UTC of the run's day, whatever its hour."""
    conf = {key: value for key, value in CONF.items() if key != "until"}
    result = airflow_home.airflow("dags", "test", "model_training", f"{UNTIL}T14:37:00+00:00",
                                  "--conf", json.dumps(conf))  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    assert _models(warehouse) == first_run
    reused = _audits(warehouse, "model_reused")[-1]
    ids = {row["kind"]: model_id for model_id, row in first_run.items()}
    models = ", ".join(ids[kind] for kind in ("ease", "als", "popular"))
    assert reused["detail"] == f"reused models {models}: same data and settings"
    assert reused["detail"] in result.stdout


def test_other_parameters_must_beat_production_to_serve(airflow_home, warehouse, first_run):
    result = airflow_home.dags_test("model_training", {**CONF, "l2": 500.0})
    assert result.returncode == 0, result.stdout[-4000:]
    models = _models(warehouse)
    new = [row for mid, row in models.items() if mid not in first_run]
    assert [row["kind"] for row in new] == ["ease"]  # ALS and popular: same inputs, same ids
    production = next(row for row in first_run.values() if row["serving"])
    judged = new[0]["compared"]["production"]
    assert judged["model_id"] == production["model_id"]
    # production learned from this hold-out (same window): judged as refit on the training plays
    assert judged["refit"] is True
    serving = [row for row in models.values() if row["serving"]]
    assert len(serving) == 1
    if new[0]["metrics"]["ndcg"] > max(judged["ndcg"], new[0]["compared"]["als"]["ndcg"]):
        assert serving[0]["model_id"] == new[0]["model_id"]
    else:
        assert serving[0]["model_id"] == production["model_id"]
        assert new[0]["reason"].startswith("kept production")


def test_a_tampered_production_model_is_named_not_loaded(airflow_home, warehouse, first_run):
    serving = next(row for row in _models(warehouse).values() if row["serving"])
    weights = airflow_home.objects_path / serving["object_prefix"] / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:-10])
    result = airflow_home.dags_test("model_training", {**CONF, "l2": 7.0})
    assert result.returncode == 0, result.stdout[-4000:]
    assert "weights.pt has SHA-256" in result.stdout + result.stderr
    assert "the production model cannot be judged" in _audits(warehouse, "model_promoted",
                                                              "model_kept")[-1]["detail"]  # fmt: skip


def test_a_window_with_too_little_data_is_refused_by_name(airflow_home, warehouse) -> None:
    before = _models(warehouse)
    early = (UNTIL - timedelta(days=58)).isoformat()
    result = airflow_home.dags_test("model_training", {**CONF, "until": early})
    assert result.returncode == 0, result.stdout[-4000:]
    assert _models(warehouse) == before
    refused = _audits(warehouse, "model_refused")[-1]
    assert refused["outcome"] == "refused" and refused["detail"].startswith("too little data")
    assert "test users" in refused["detail"]


@pytest.mark.parametrize(
    ("conf", "field"),
    [({"holdout_days": 60, "window_days": 60}, "holdout_days"), ({"window_days": 3}, "window_days"),
     ({"until": "2999-01-01"}, "until")],
)  # fmt: skip
def test_bad_conf_is_refused_before_the_run_naming_the_field(airflow_home, warehouse, conf, field):
    before = len(_audits(warehouse, "model_trained", "model_refused"))
    result = airflow_home.dags_test("model_training", conf)
    assert result.returncode != 0
    assert field in result.stdout + result.stderr
    assert len(_audits(warehouse, "model_trained", "model_refused")) == before
    json.dumps(conf)
