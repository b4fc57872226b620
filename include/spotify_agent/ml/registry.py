"""The model registry: weights and cards in the object store, one row per model in the warehouse.

Under ``models/<model_id>/`` a model is three files: ``weights.pt`` (its ``state_dict``, saved
with ``torch.save`` and loaded with ``weights_only=True``, so no pickled code runs), ``items.json``
(the item id of each column) and ``card.json`` (kind, hyper-parameters, data window, metrics,
code version and the SHA-256 of the other two), written last: a card in the store means its
files are complete. Files are written once: an id names its inputs, so a model already stored
(and intact) is never rewritten under a reader. Loading checks both digests and refuses a model whose files were changed or
cut short (:class:`ModelIntegrityError`).

The ``model_registry`` table keeps the same facts, which model serves (one row at most) and why.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select, update

from spotify_agent.core.objects import ensure_parent
from spotify_agent.ml.models import MODELS, Recommender
from spotify_agent.warehouse.schema import model_registry
from spotify_agent.warehouse.upsert import upsert

PREFIX = "models"


class ModelIntegrityError(Exception):
    """A registered model's files do not match its card."""


@dataclass(frozen=True)
class LoadedModel:
    model_id: str
    model: Recommender
    item_ids: np.ndarray
    card: dict[str, Any]


def model_prefix(model_id: str) -> str:
    return f"{PREFIX}/{model_id}"


def save_model(root: Any, model_id: str, model: Recommender, item_ids: np.ndarray,
               card: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Write the model's files; returns the card as written (with the files' digests)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    weights = buffer.getvalue()
    items = json.dumps([str(item) for item in item_ids]).encode()
    card = {
        **card,
        "model_id": model_id,
        "kind": model.kind,
        "params": model.params(),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "items_sha256": hashlib.sha256(items).hexdigest(),
        "items": len(item_ids),
    }
    folder = root / model_prefix(model_id)
    if (folder / "card.json").exists():
        try:  # same id, same inputs: the files there are this model; never rewrite a live one
            return load_model(root, model_id).card
        except ModelIntegrityError:
            pass  # broken files: write them again
    for name, data in (("weights.pt", weights), ("items.json", items)):
        ensure_parent(folder / name)
        (folder / name).write_bytes(data)
    (folder / "card.json").write_bytes(json.dumps(card, indent=2, sort_keys=True).encode())
    return card


def load_model(root: Any, model_id: str) -> LoadedModel:
    """Read a registered model back, after checking its files against its card."""
    import torch

    folder = root / model_prefix(model_id)
    try:
        card = json.loads((folder / "card.json").read_bytes())
        weights = (folder / "weights.pt").read_bytes()
        items = (folder / "items.json").read_bytes()
    except FileNotFoundError as missing:
        raise ModelIntegrityError(f"{model_id}: {missing.filename or missing} is missing") from None
    for name, data, key in (("weights.pt", weights, "weights_sha256"),
                            ("items.json", items, "items_sha256")):  # fmt: skip
        digest = hashlib.sha256(data).hexdigest()
        if digest != card.get(key):
            raise ModelIntegrityError(
                f"{model_id}: {name} has SHA-256 {digest[:12]}..., its card says "
                f"{str(card.get(key))[:12]}...: refusing to load it"
            )
    state = torch.load(io.BytesIO(weights), weights_only=True)
    model = MODELS[card["kind"]].from_state_dict(state, card["params"])
    return LoadedModel(model_id, model, np.array(json.loads(items), dtype=object), card)


def record_model(connection: Connection, row: dict[str, Any]) -> None:
    """Insert or refresh a model's row; whether it serves, and why, is left as it was."""
    kept = ("model_id", "serving", "promoted_at", "decision", "reason")
    upsert(
        connection,
        model_registry,
        [{"decision": None, "reason": None, **row, "serving": False}],
        key=("model_id",),
        update=[column for column in row if column not in kept],
    )


def registered(connection: Connection, model_id: str) -> dict[str, Any] | None:
    found = connection.execute(
        select(model_registry).where(model_registry.c.model_id == model_id)
    ).first()
    return dict(found._mapping) if found else None


@dataclass(frozen=True)
class RegisteredRun:
    """What an earlier training run with the same key registered: its models and figures."""

    models: dict[str, str]
    candidates: dict[str, dict[str, Any]]


def registered_run(connection: Connection, model_id: str, run_key: str) -> RegisteredRun | None:
    """The run ``run_key`` that registered ``model_id`` (one of its models), or None when the
    model is not registered or was registered by a run with other inputs."""
    row = registered(connection, model_id)
    compared = (row or {}).get("compared") or {}
    if compared.get("run") != run_key:
        return None
    candidates = {k: v for k, v in compared.items() if k not in ("run", "models")}
    return RegisteredRun(dict(compared["models"]), candidates)


def serving_model(connection: Connection) -> dict[str, Any] | None:
    found = connection.execute(
        select(model_registry).where(model_registry.c.serving.is_(True))
    ).first()
    return dict(found._mapping) if found else None


def promote(connection: Connection, model_id: str, *, reason: str, at: datetime) -> None:
    """Make ``model_id`` the one serving model; call inside the transaction that audits it."""
    connection.execute(
        update(model_registry)
        .where(model_registry.c.serving.is_(True), model_registry.c.model_id != model_id)
        .values(serving=False)
    )
    promoted = connection.execute(
        update(model_registry)
        .where(model_registry.c.model_id == model_id)
        .values(serving=True, decision="promoted", reason=reason, promoted_at=at)
    )
    if promoted.rowcount != 1:  # the transaction rolls back: the old model keeps serving
        raise ValueError(f"model_id: {model_id!r} is not registered, so it cannot serve")


def record_decision(connection: Connection, model_id: str, *, decision: str, reason: str) -> None:
    connection.execute(
        update(model_registry)
        .where(model_registry.c.model_id == model_id)
        .values(decision=decision, reason=reason)
    )
