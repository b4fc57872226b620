"""The content_generation jobs without Airflow, on each warehouse backend, against the Spotify
emulator over real HTTP (spotipy) and a chat-completions endpoint on loopback: a description
drafted from the warehouse's facts and stored with them, put to review with the facts beside
it; the same day's re-run drafting nothing new; a rejected text not asked again; an approved
one published; publishing writing only a difference; a model's answer that invents a figure
quarantined with the template kept, and a checked one waiting for a person; the weekly digest
written to the object store once per week."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import insert, select

from spotify_agent.content.content_generation import (
    AUTO_REVIEWER,
    draft_descriptions,
    publish_descriptions,
    record_review,
    write_artist_digest,
)
from spotify_agent.content.llm import LlmSettings
from spotify_agent.core.audit import Attempt
from spotify_agent.core.errors import PermanentFailure
from spotify_agent.spotify.confs import ManagedPlaylistSpec
from spotify_agent.spotify.models import Tier
from spotify_agent.spotify.playlist_store import manage
from spotify_agent.warehouse.schema import (
    artist_snapshots,
    audit_log,
    content_versions,
    listening_events,
    quarantine,
)
from spotify_emulator.config import CatalogSpec
from spotify_emulator.testing import EmulatorHandle, run_emulator
from tests.include.spotify_emulator.spotipy_client import user_client
from tests.llm_fake import FakeLlm, run_fake_llm

CATALOG = CatalogSpec(seed=31, n_artists=20, albums_per_artist=2, tracks_per_album=5, n_users=2)
SCOPE = "playlist-modify-public playlist-modify-private user-read-private"
DESCRIPTION_WRITES = "PUT /v1/playlists/{playlist_id}"
END = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
LLM_CONN_ID = "content_llm_test"


def _attempt(run_id: str = "manual__content-1", task_id: str = "draft_descriptions") -> Attempt:
    return Attempt("content_generation", run_id, "cd" * 16, task_id=task_id, try_number=1)


@dataclass(frozen=True)
class Account:
    """The clients of one Spotify connection, as ``SpotifyHook`` gives them."""

    client: Any
    user_client: Any
    tier: Tier = "extended"


@dataclass(frozen=True)
class LoopbackLlm:
    """The chat-completions endpoint over HTTP, as ``LlmHook`` sends to it."""

    base_url: str
    llm_conn_id: str = LLM_CONN_ID
    settings: LlmSettings = LlmSettings(model="fake-model", max_chars=300)

    def post(self, body: dict[str, Any]) -> Any:
        response = requests.post(f"{self.base_url}/v1/chat/completions", json=body, timeout=5)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(catalog=CATALOG) as handle:
        yield handle


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    with run_fake_llm() as fake:
        yield fake


@pytest.fixture
def accounts(emulator, monkeypatch):
    """The playlists' connection, and nothing else: asking for another one fails."""
    client = user_client(emulator, monkeypatch, scope=SCOPE)
    return {"spotify_default": Account(client, client)}.__getitem__


def _owned(emulator: EmulatorHandle) -> list[str]:
    return sorted(
        p.id for p in emulator.catalog.playlists.values() if p.owner_id == emulator.user_id
    )


def _live(emulator: EmulatorHandle, playlist_id: str) -> str:
    return str(emulator.user_get(f"/playlists/{playlist_id}")["description"] or "")


def _writes(emulator: EmulatorHandle) -> int:
    return sum(emulator.stats()["by_route"].get(DESCRIPTION_WRITES, {}).values())


def _rows(engine, table, *where) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        query = select(table).where(*where).order_by(*table.primary_key.columns)
        return [dict(row) for row in connection.execute(query).mappings()]


def _manage(warehouse, playlist_id: str, **spec: Any) -> None:
    with warehouse.begin() as connection:
        manage(
            connection,
            [ManagedPlaylistSpec(playlist_id=playlist_id, **spec)],
            run_id="setup",
            at=NOW,
        )


def _hand_picked(warehouse, emulator: EmulatorHandle, count: int = 7) -> tuple[str, list[str]]:
    playlist_id = _owned(emulator)[0]
    tracks = sorted(emulator.catalog.tracks)[:count]
    _manage(warehouse, playlist_id, rule="track_list", track_ids=tracks)
    return playlist_id, tracks


def _draft(warehouse, accounts, attempt=None, llm=None, playlist_ids=()):
    attempt = attempt or _attempt()
    playlists = list(playlist_ids)
    return draft_descriptions(
        warehouse, accounts, playlists, attempt, end=END, llm=llm, now=lambda: NOW
    )


def _publish(warehouse, accounts, drafted, *, require_approval: bool, run_id="manual__content-1"):
    return publish_descriptions(
        warehouse,
        accounts,
        drafted.pending,
        _attempt(run_id, "publish_descriptions"),
        require_approval=require_approval,
        now=lambda: NOW,
    )


def _actions(warehouse, action: str) -> list[dict[str, Any]]:
    return _rows(warehouse, audit_log, audit_log.c.action == action)


def _name_of(emulator: EmulatorHandle, track_id: str) -> tuple[str, str]:
    track = emulator.catalog.tracks[track_id]
    return track.name, emulator.catalog.artists[track.artist_ids[0]].name


def test_a_description_is_drafted_from_the_facts_and_a_same_day_re_run_drafts_nothing_new(
    warehouse, emulator, accounts
) -> None:
    playlist_id = _owned(emulator)[0]
    top, second = sorted(emulator.catalog.tracks)[:2]
    plays = [(top, "u1"), (top, "u2"), (top, "u1"), (second, "u3"), (second, "u1")]
    with warehouse.begin() as connection:
        connection.execute(
            insert(listening_events),
            [
                {
                    "user_id": user,
                    "played_at": END - timedelta(hours=5, minutes=index),
                    "track_id": track,
                    "source": "test",
                    "run_id": "r",
                    "ingested_at": END,
                }
                for index, (track, user) in enumerate(plays)
            ],
        )
    _manage(warehouse, playlist_id, rule="most_played", size=10, window_days=7)
    before = _live(emulator, playlist_id)

    drafted = _draft(warehouse, accounts)

    track, artist = _name_of(emulator, top)
    text = (
        "The 2 most played tracks of the last 7 days. 5 plays by 3 listeners. "
        f"No. 1: {track} by {artist}, played 3 times."
    )
    (version,) = _rows(warehouse, content_versions)
    assert (version["subject_id"], version["text"], version["status"]) == (
        playlist_id,
        text,
        "drafted",
    )
    assert (version["generator"], version["period"], version["drafted_by_run"]) == (
        "template:v1",
        "2026-04-01",
        "manual__content-1",
    )
    assert version["sentences"] == [
        {
            "text": "The 2 most played tracks of the last 7 days.",
            "facts": {"tracks": 2, "window_days": 7},
        },
        {"text": "5 plays by 3 listeners.", "facts": {"plays": 5, "listeners": 3}},
        {
            "text": f"No. 1: {track} by {artist}, played 3 times.",
            "facts": {"rank": 1, "track": track, "artist": artist, "top_plays": 3},
        },
    ]
    (pending,) = drafted.pending
    assert pending == {
        "subject_type": "playlist_description",
        "subject_id": playlist_id,
        "content_sha256": version["content_sha256"],
        "playlist_id": playlist_id,
        "spotify_conn_id": "spotify_default",
        "text": text,
        "generator": "template:v1",
    }
    assert drafted.counts == {
        "drafted": 1,
        "unchanged": 0,
        "already_live": 0,
        "llm_rewrites": 0,
        "quarantined": 0,
    }
    lines = drafted.review.splitlines()
    assert lines[1:4] == [
        f"*Now:* {before or '(empty)'}",
        f"*Proposed (template:v1):* {text}",
        "*Facts:*",
    ]
    assert lines[4] == "- The 2 most played tracks of the last 7 days. (tracks=2, window_days=7)"
    assert drafted.as_result() == {
        "pending": [pending],
        "review": drafted.review,
        "counts": drafted.counts,
    }
    (audit,) = _actions(warehouse, "content_drafted")
    assert (audit["entity_key"], audit["detail"], audit["trace_id"]) == (
        f"{playlist_id}:{version['content_sha256'][:12]}",
        "template:v1",
        "cd" * 16,
    )
    assert audit["counts"] == {"rows_written": 1, "sentences": 3}
    assert _live(emulator, playlist_id) == before  # drafting writes nothing to Spotify

    # Later the same day: the same facts, so the same text and no new version.
    again = _draft(warehouse, accounts, attempt=_attempt("manual__content-2"))

    assert [row["content_sha256"] for row in _rows(warehouse, content_versions)] == [
        version["content_sha256"]
    ]
    assert [item["content_sha256"] for item in again.pending] == [version["content_sha256"]]
    assert _writes(emulator) == 0


def test_publishing_without_approval_writes_only_a_difference(
    warehouse, emulator, accounts
) -> None:
    playlist_id, tracks = _hand_picked(warehouse, emulator)
    drafted = _draft(warehouse, accounts)
    emulator.reset_stats()

    published = _publish(warehouse, accounts, drafted, require_approval=False)

    track, artist = _name_of(emulator, tracks[0])
    expected = f"7 hand-picked tracks. It opens with {track} by {artist}."
    assert _live(emulator, playlist_id) == expected
    assert _writes(emulator) == 1
    assert published.as_result() == {"published": 1, "write_calls": 1, "awaiting_review": 0}
    (version,) = _rows(warehouse, content_versions)
    assert (version["text"], version["status"], version["reviewed_by"]) == (
        expected,
        "published",
        AUTO_REVIEWER,
    )
    assert version["published_at"] is not None
    (approved,) = _actions(warehouse, "content_approved")
    assert approved["detail"] == f"reviewed by {AUTO_REVIEWER}"
    (audit,) = _actions(warehouse, "content_published")
    assert (audit["task_id"], audit["counts"]) == ("publish_descriptions", {"write_calls": 1})

    # Publishing the same text again reads it live and writes nothing.
    emulator.reset_stats()
    again = _publish(warehouse, accounts, drafted, require_approval=False, run_id="manual__c-2")
    assert (again.published, again.write_calls) == (1, 0)
    assert _writes(emulator) == 0

    # And a new draft of a text Spotify shows already asks nobody.
    redrafted = _draft(warehouse, accounts, attempt=_attempt("manual__content-3"))
    assert (redrafted.pending, redrafted.review) == ((), "")
    assert redrafted.counts["already_live"] == 1 and redrafted.counts["drafted"] == 0


def test_a_rejected_text_stays_off_spotify_and_is_not_asked_again(
    warehouse, emulator, accounts
) -> None:
    playlist_id, _ = _hand_picked(warehouse, emulator)
    before = _live(emulator, playlist_id)
    drafted = _draft(warehouse, accounts)

    marked = record_review(
        warehouse, drafted.pending, _attempt(task_id="approve"), approved=False, reviewer="ana"
    )

    assert marked == 1
    (version,) = _rows(warehouse, content_versions)
    assert (version["status"], version["reviewed_by"]) == ("rejected", "ana")
    (audit,) = _actions(warehouse, "content_rejected")
    assert (audit["task_id"], audit["detail"]) == ("approve", "reviewed by ana")
    assert audit["entity_key"] == f"{playlist_id}:{version['content_sha256'][:12]}"

    again = _draft(warehouse, accounts, attempt=_attempt("manual__content-2"))

    assert (again.pending, again.review) == ((), "")
    assert again.counts["unchanged"] == 1 and again.counts["drafted"] == 0
    assert len(_actions(warehouse, "content_drafted")) == 1
    assert _live(emulator, playlist_id) == before
    assert _writes(emulator) == 0


def test_an_approved_text_is_published_with_its_reviewer_kept(
    warehouse, emulator, accounts
) -> None:
    playlist_id, _ = _hand_picked(warehouse, emulator, count=4)
    drafted = _draft(warehouse, accounts)
    record_review(
        warehouse, drafted.pending, _attempt(task_id="approve"), approved=True, reviewer="ana"
    )
    assert [row["status"] for row in _rows(warehouse, content_versions)] == ["approved"]

    published = _publish(warehouse, accounts, drafted, require_approval=True)

    (version,) = _rows(warehouse, content_versions)
    assert (version["status"], version["reviewed_by"]) == ("published", "ana")
    assert _live(emulator, playlist_id) == version["text"]
    assert version["text"].startswith("4 hand-picked tracks.")
    assert (published.published, published.write_calls) == (1, 1)


def test_an_llm_answer_that_invents_a_figure_is_quarantined_and_the_template_kept(
    warehouse, emulator, accounts, llm
) -> None:
    playlist_id, _ = _hand_picked(warehouse, emulator)
    llm.answer_text("Eight brilliant tracks, 100% bangers, 12 of them new.")

    drafted = _draft(warehouse, accounts, llm=LoopbackLlm(llm.base_url))

    (request,) = llm.requests
    (version,) = _rows(warehouse, content_versions)
    assert version["text"] in request["messages"][1]["content"]
    assert (version["generator"], drafted.pending[0]["generator"]) == ("template:v1",) * 2
    assert drafted.counts["quarantined"] == 1 and drafted.counts["llm_rewrites"] == 0
    (item,) = _rows(warehouse, quarantine)
    assert (item["source"], item["run_id"], item["trace_id"]) == (
        f"content_llm:{LLM_CONN_ID}",
        "manual__content-1",
        "cd" * 16,
    )
    assert item["reason"] == (
        "states numbers no fact gives: 100, 12; writes figures as words: eight; "
        "states a percentage no fact gives"
    )
    assert _live(emulator, playlist_id) != "Eight brilliant tracks, 100% bangers, 12 of them new."


def test_an_endpoint_that_fails_keeps_the_template_and_quarantines_the_request(
    warehouse, emulator, accounts, llm
) -> None:
    _hand_picked(warehouse, emulator)
    llm.answer_raw(503, b'{"error": "overloaded"}')

    drafted = _draft(warehouse, accounts, llm=LoopbackLlm(llm.base_url))

    assert drafted.pending[0]["generator"] == "template:v1"
    (item,) = _rows(warehouse, quarantine)
    assert item["reason"] == "request failed: HTTPError (HTTP 503)"


def test_a_checked_llm_rewrite_waits_for_a_person_even_when_approval_is_off(
    warehouse, emulator, accounts, llm
) -> None:
    playlist_id, tracks = _hand_picked(warehouse, emulator)
    before = _live(emulator, playlist_id)
    track, _ = _name_of(emulator, tracks[0])
    rewritten = f"No filler: 7 handpicked tracks that open with {track}."
    llm.answer_text(rewritten)
    drafted = _draft(warehouse, accounts, llm=LoopbackLlm(llm.base_url))
    assert [(item["generator"], item["text"]) for item in drafted.pending] == [
        ("llm:fake-model", rewritten)
    ]
    assert drafted.counts["llm_rewrites"] == 1
    emulator.reset_stats()

    published = _publish(warehouse, accounts, drafted, require_approval=False)

    assert published.as_result() == {"published": 0, "write_calls": 0, "awaiting_review": 1}
    assert _live(emulator, playlist_id) == before
    assert _writes(emulator) == 0
    (version,) = _rows(warehouse, content_versions)
    assert (version["text"], version["status"], version["reviewed_by"]) == (
        rewritten,
        "drafted",
        None,
    )
    (audit,) = _actions(warehouse, "content_awaiting_review")
    assert audit["detail"] == "llm:fake-model text is published only after approval"
    assert _actions(warehouse, "content_approved") == []


def test_refused_credentials_fail_naming_the_playlist_s_connection(
    warehouse, emulator, monkeypatch
) -> None:
    _hand_picked(warehouse, emulator)
    refused = user_client(emulator, monkeypatch, scope=SCOPE, client_secret="not-the-secret")

    with pytest.raises(PermanentFailure, match="^spotify_default: "):
        _draft(warehouse, {"spotify_default": Account(refused, refused)}.__getitem__)

    assert _rows(warehouse, content_versions) == []


def test_the_weekly_digest_is_written_once_per_week(warehouse, tmp_path) -> None:
    monday = date(2026, 3, 23)  # ISO week 13, the last complete one before END
    with warehouse.begin() as connection:
        connection.execute(
            insert(artist_snapshots),
            [
                {
                    "artist_id": "a" * 22,
                    "snapshot_date": day,
                    "name": "Aurora Band",
                    "genres": [],
                    "popularity": 50,
                    "followers": followers,
                    "release_ids": [],
                    "run_id": "r",
                    "trace_id": "t" * 32,
                    "captured_at": END,
                }
                for day, followers in ((monday, 1000), (monday + timedelta(days=6), 1125))
            ],
        )
    attempt = _attempt(task_id="write_artist_digest")

    digest = write_artist_digest(warehouse, tmp_path, END, attempt, now=lambda: NOW)

    key = "content/artist_digests/2026-W13.md"
    assert digest.as_result() == {"week": "2026-W13", "object_key": key, "lines": 2}
    written = (tmp_path / key).read_text()
    assert written.splitlines() == [
        "# Artist digest 2026-W13: 1 watched artist, 0 new releases",
        "- Aurora Band gained 125 followers (12.5%), now 1,125.",
    ]
    (version,) = _rows(warehouse, content_versions)
    assert (version["subject_type"], version["subject_id"], version["status"]) == (
        "artist_digest",
        "2026-W13",
        "published",
    )
    assert version["object_key"] == key
    (audit,) = _actions(warehouse, "content_published")
    assert (audit["entity_key"], audit["detail"], audit["counts"]) == (
        f"2026-W13:{version['content_sha256'][:12]}",
        key,
        {"rows_written": 1, "lines": 2},
    )

    # Another run of the week: the same object, the same version, nothing audited again.
    again = write_artist_digest(
        warehouse, tmp_path, END + timedelta(days=2), _attempt("manual__content-2"), now=lambda: NOW
    )
    assert again == digest
    assert (tmp_path / key).read_text() == written
    assert len(_rows(warehouse, content_versions)) == 1
    assert len(_actions(warehouse, "content_published")) == 1
