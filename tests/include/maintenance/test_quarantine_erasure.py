"""Erasure reaches quarantined records kept in the object store, by the listener column."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from spotify_agent.core.quarantine import (
    MAX_INLINE_BYTES,
    QuarantinedItem,
    RunRef,
    quarantine_items,
)
from spotify_agent.maintenance.personal_data import Place, QuarantineMentions
from spotify_agent.warehouse.schema import quarantine

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RUN = RunRef(dag_id="listening_ingest", run_id="r1", task_id="ingest_file", trace_id="c" * 32)
PADDING = "p" * (MAX_INLINE_BYTES + 10)


def _line(user_id: str, tail: str = "") -> bytes:
    # A broken line too large to keep inline: only its start says whose it is.
    return f'{{"user_id": "{user_id}", "track_id": "{PADDING}{tail}'.encode()


def test_erasing_a_listener_deletes_their_offloaded_records_and_nobody_elses(
    warehouse, tmp_path: Path
) -> None:
    objects = tmp_path / "objects"
    items = [
        QuarantinedItem("landing/listening/a.jsonl:1", _line("gone.user"), "not JSON"),
        # The same record from another file: one object, two rows.
        QuarantinedItem("landing/listening/b.jsonl:7", _line("gone.user"), "not JSON"),
        QuarantinedItem("landing/listening/a.jsonl:2", _line("kept.user", "x"), "not JSON"),
        QuarantinedItem(
            "landing/listening/a.jsonl:3", {"user_id": "gone.user", "x": PADDING}, "bad"
        ),
    ]
    with warehouse.begin() as connection:
        quarantine_items(connection, items, run=RUN, at=NOW, objects=objects)
    offloaded = sorted(p.name for p in (objects / "quarantine").iterdir())
    assert len(offloaded) == 3
    store = QuarantineMentions()
    with warehouse.begin() as connection:
        place = Place(connection, objects=objects)
        # Nothing of the user is in the rows' text: only the column and the objects hold it.
        payloads = list(connection.execute(select(quarantine.c.payload)).scalars())
        assert payloads == ["", "", "", ""]
        assert store.user_ids(place) == {"gone.user", "kept.user"}
        assert store.find(place, "gone.user") == 3
        assert store.erase(place, "gone.user") == 3
        assert store.find(place, "gone.user") == 0
    with warehouse.connect() as connection:
        left = connection.execute(select(quarantine.c.source, quarantine.c.user_id)).all()
        kept_key = connection.execute(select(quarantine.c.payload_object_key)).scalar_one()
    assert left == [("landing/listening/a.jsonl:2", "kept.user")]
    assert [p.name for p in (objects / "quarantine").iterdir()] == [kept_key.split("/")[1]]
    assert json.dumps("kept.user")[1:-1].encode() in (objects / kept_key).read_bytes()


def test_on_a_restored_copy_without_an_object_store_the_rows_still_go(
    warehouse, tmp_path: Path
) -> None:
    objects = tmp_path / "objects"
    item = QuarantinedItem("landing/listening/a.jsonl:1", _line("gone.user"), "not JSON")
    with warehouse.begin() as connection:
        quarantine_items(connection, [item], run=RUN, at=NOW, objects=objects)
    with warehouse.begin() as connection:
        assert QuarantineMentions().erase(Place(connection), "gone.user") == 1
        assert QuarantineMentions().find(Place(connection), "gone.user") == 0
