"""content_generation end to end with `airflow dags test`: draft, publish, digest, LLM checks.

The approval step itself (a person answering in Required Actions) needs an API server and a
scheduler: tests/e2e/test_content_approval.py drives it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select

from spotify_agent.warehouse.schema import content_versions, quarantine
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.llm_fake import FakeLlm, run_fake_llm

CATALOG = CatalogSpec(seed=31, n_artists=20, albums_per_artist=2, tracks_per_album=5, n_users=2)
DESCRIPTION_WRITES = "PUT /v1/playlists/{playlist_id}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=CATALOG) as handle:
        yield handle


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLlm]:
    with run_fake_llm() as fake:
        yield fake


def _env(emulator: EmulatorHandle, llm: FakeLlm) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_SPOTIFY_DEFAULT": json.dumps(emulator.connection()),
        "AIRFLOW_CONN_CONTENT_LLM_TEST": json.dumps(llm.connection()),
    }


def _run(airflow_home, emulator, llm, dag_id: str, day: str, conf: dict[str, object]):
    return airflow_home.airflow(
        "dags", "test", dag_id, day, "--conf", json.dumps(conf), extra_env=_env(emulator, llm)
    )


def _playlist(emulator: EmulatorHandle) -> str:
    owned = sorted(
        p.id for p in emulator.catalog.playlists.values() if p.owner_id == emulator.user_id
    )
    return owned[0]


def _live_description(emulator: EmulatorHandle, playlist_id: str) -> str:
    return str(emulator.user_get(f"/playlists/{playlist_id}")["description"] or "")


def _versions(airflow_home, playlist_id: str) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        rows = [
            dict(row)
            for row in connection.execute(
                select(content_versions)
                .where(content_versions.c.subject_id == playlist_id)
                .order_by(content_versions.c.drafted_at)
            ).mappings()
        ]
    engine.dispose()
    return rows


def _description_writes(emulator: EmulatorHandle) -> int:
    return sum(emulator.stats()["by_route"].get(DESCRIPTION_WRITES, {}).values())


@pytest.fixture(scope="module")
def published(airflow_home, emulator, llm):
    playlist_id = _playlist(emulator)
    tracks = sorted(emulator.catalog.tracks)[:7]
    managed = _run(
        airflow_home,
        emulator,
        llm,
        "playlist_update",
        "2026-04-01",
        {"manage": [{"playlist_id": playlist_id, "rule": "track_list", "track_ids": tracks}]},
    )
    assert managed.returncode == 0, managed.stdout[-4000:]
    emulator.reset_stats()
    conf = {"playlist_ids": [playlist_id], "require_approval": False}
    result = _run(airflow_home, emulator, llm, "content_generation", "2026-04-01", conf)
    assert result.returncode == 0, result.stdout[-4000:]
    return playlist_id, tracks, _description_writes(emulator)


def test_a_description_is_drafted_from_facts_and_published(
    airflow_home, emulator, published
) -> None:
    playlist_id, tracks, writes = published
    first = emulator.catalog.tracks[tracks[0]]
    artist = emulator.catalog.artists[first.artist_ids[0]].name
    expected = f"7 hand-picked tracks. It opens with {first.name} by {artist}."
    assert _live_description(emulator, playlist_id) == expected
    assert writes == 1
    (version,) = _versions(airflow_home, playlist_id)
    assert version["text"] == expected
    assert version["status"] == "published"
    assert version["generator"] == "template:v1"
    assert version["reviewed_by"] == "auto (require_approval=false)"
    assert version["sentences"][0] == {"text": "7 hand-picked tracks.", "facts": {"tracks": 7}}


def test_the_weekly_digest_lands_in_the_object_store(airflow_home, published) -> None:
    digests = sorted((airflow_home.objects_path / "content" / "artist_digests").glob("*.md"))
    assert [path.name for path in digests] == ["2026-W13.md"]
    assert digests[0].read_text().startswith("# Artist digest 2026-W13: ")


def test_re_running_with_the_same_facts_writes_nothing(
    airflow_home, emulator, llm, published
) -> None:
    playlist_id, _, _ = published
    emulator.reset_stats()
    conf = {"playlist_ids": [playlist_id], "require_approval": False}
    result = _run(airflow_home, emulator, llm, "content_generation", "2026-04-02", conf)
    assert result.returncode == 0, result.stdout[-4000:]
    assert _description_writes(emulator) == 0
    assert len(_versions(airflow_home, playlist_id)) == 1


def test_an_llm_answer_that_invents_a_figure_is_quarantined_and_the_template_kept(
    airflow_home, emulator, llm, published
) -> None:
    playlist_id, _, _ = published
    before = _live_description(emulator, playlist_id)
    llm.answer_text("Eight brilliant tracks, 100% bangers, 12 of them new.")
    conf = {
        "playlist_ids": [playlist_id],
        "require_approval": False,
        "llm_conn_id": "content_llm_test",
        "kinds": ["playlist_descriptions"],
    }
    result = _run(airflow_home, emulator, llm, "content_generation", "2026-04-03", conf)
    assert result.returncode == 0, result.stdout[-4000:]
    assert _live_description(emulator, playlist_id) == before
    engine = create_engine(f"sqlite:///{airflow_home.warehouse_path}")
    with engine.connect() as connection:
        reasons = list(
            connection.execute(
                select(quarantine.c.reason).where(
                    quarantine.c.source == "content_llm:content_llm_test"
                )
            ).scalars()
        )
    engine.dispose()
    assert reasons == [
        "states numbers no fact gives: 100, 12; writes figures as words: eight; "
        "states a percentage no fact gives"
    ]


def test_a_checked_llm_rewrite_is_kept_for_review_even_when_approval_is_off(
    airflow_home, emulator, llm, published
) -> None:
    playlist_id, tracks, _ = published
    before = _live_description(emulator, playlist_id)
    first = emulator.catalog.tracks[tracks[0]]
    rewritten = f"No filler: 7 handpicked tracks that open with {first.name}."
    llm.answer_text(rewritten)
    conf = {
        "playlist_ids": [playlist_id],
        "require_approval": False,
        "llm_conn_id": "content_llm_test",
        "kinds": ["playlist_descriptions"],
    }
    result = _run(airflow_home, emulator, llm, "content_generation", "2026-04-04", conf)
    assert result.returncode == 0, result.stdout[-4000:]
    # A model's text never goes out without a person; the template text stays live.
    assert _live_description(emulator, playlist_id) == before
    versions = _versions(airflow_home, playlist_id)
    assert [(v["generator"], v["status"], v["text"]) for v in versions] == [
        ("template:v1", "published", before),
        ("llm:fake-model", "drafted", rewritten),
    ]
    assert versions[1]["sentences"] == versions[0]["sentences"]


def test_bad_conf_is_refused_before_the_run(airflow_home, emulator, llm) -> None:
    result = _run(
        airflow_home, emulator, llm, "content_generation", "2026-04-05", {"kinds": ["poems"]}
    )
    assert result.returncode != 0
    assert "Invalid input for param kinds" in result.stdout + result.stderr
