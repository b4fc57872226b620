"""Facts from the warehouse (SQLite and PostgreSQL) and the texts that state them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select

from spotify_agent.content.digest import (
    artist_digest,
    artist_weeks,
    last_complete_week,
    trending_artists,
)
from spotify_agent.content.playlists import (
    PlaylistFacts,
    TrackName,
    describe_playlist,
    playlist_facts,
)
from spotify_agent.content.store import get_version, set_status, store_draft
from spotify_agent.spotify.playlist_store import ManagedPlaylist
from spotify_agent.warehouse.schema import (
    artist_events,
    artist_releases,
    artist_snapshots,
    catalogue_tracks,
    content_versions,
    listening_events,
    listening_trends,
)

END = datetime(2026, 11, 25, tzinfo=UTC)
A, B, C = ("a" * 22, "b" * 22, "c" * 22)


def _plays(connection, plays: dict[str, list[str]], *, at: datetime) -> None:
    rows = [
        {
            "user_id": user,
            "played_at": at - timedelta(minutes=index),
            "track_id": track,
            "source": "test",
            "run_id": "r",
            "ingested_at": at,
        }
        for track, users in plays.items()
        for index, user in enumerate(users)
    ]
    connection.execute(insert(listening_events), rows)


def test_a_most_played_description_states_plays_listeners_and_the_top_track(warehouse) -> None:
    with warehouse.begin() as connection:
        _plays(connection, {A: ["u1", "u2", "u1"], B: ["u3", "u1"]}, at=END - timedelta(days=1))
        _plays(connection, {C: ["u9"] * 5}, at=END - timedelta(days=30))  # outside the window
        playlist = ManagedPlaylist("p" * 22, "spotify_default", "most_played", 10, 7, ())
        facts = playlist_facts(connection, playlist, end=END)
    assert (facts.track_ids, facts.plays, facts.listeners, facts.top_plays) == ((A, B), 5, 3, 3)
    draft = describe_playlist(
        facts, {A: TrackName(A, "Northern Lights", ("Aurora Band",))}, period="2026-11-25"
    )
    assert draft is not None
    assert draft.text == (
        "The 2 most played tracks of the last 7 days. 5 plays by 3 listeners. "
        "No. 1: Northern Lights by Aurora Band, played 3 times."
    )


def test_an_empty_playlist_gets_no_description(warehouse) -> None:
    with warehouse.connect() as connection:
        playlist = ManagedPlaylist("p" * 22, "spotify_default", "most_played", 10, 7, ())
        facts = playlist_facts(connection, playlist, end=END)
    assert describe_playlist(facts, {}, period="2026-11-25") is None


def test_storing_the_same_text_twice_keeps_one_version_and_its_status(warehouse) -> None:
    playlist = ManagedPlaylist("p" * 22, "spotify_default", "track_list", 10, 7, (A, B))
    with warehouse.begin() as connection:
        facts = playlist_facts(connection, playlist, end=END)
        draft = describe_playlist(facts, {}, period="2026-11-25")
        assert draft is not None and draft.text == "2 hand-picked tracks."
        first = store_draft(connection, draft, run_id="r1", trace_id="t" * 32, at=END)
        set_status(connection, [first.key], "rejected", at=END, reviewed_by="ana")
        again = store_draft(connection, draft, run_id="r2", trace_id="t" * 32, at=END)
        assert again == get_version(connection, *first.key.values())
        assert again.status == "rejected"


def test_two_runs_of_one_day_state_the_same_facts_and_keep_one_version(warehouse) -> None:
    """Plays age out of a window that ends at the clock's hour: whole days keep the text."""
    with warehouse.begin() as connection:
        _plays(connection, {A: ["u1", "u2"], B: ["u3"]}, at=END - timedelta(days=1))
        # a window counted back from the clock would hold these at 09:00 and not at 17:00
        _plays(connection, {A: ["u4"] * 3}, at=END - timedelta(days=7, hours=-10))
        # and this one at 17:00 only: the day is not over, so no run of it counts it
        _plays(connection, {B: ["u5"]}, at=END + timedelta(hours=12))
    playlist = ManagedPlaylist("p" * 22, "spotify_default", "most_played", 10, 7, ())
    versions = set()
    for hour in (9, 17):
        at = END + timedelta(hours=hour)
        with warehouse.begin() as connection:
            facts = playlist_facts(connection, playlist, end=at)
            draft = describe_playlist(facts, {}, period=at.date().isoformat())
            assert draft is not None
            stored = store_draft(connection, draft, run_id=f"run-{hour}", trace_id="0" * 32, at=at)
            versions.add(stored.content_sha256)
        assert (facts.track_ids, facts.plays, facts.listeners) == ((A, B), 6, 4)
    assert len(versions) == 1
    with warehouse.connect() as connection:
        count = connection.execute(select(func.count()).select_from(content_versions))
        assert count.scalar_one() == 1


def test_the_digest_covers_the_last_complete_iso_week(warehouse) -> None:
    monday, next_monday, week = last_complete_week(datetime(2026, 11, 25, 3, tzinfo=UTC))
    assert (monday, next_monday, week) == (date(2026, 11, 16), date(2026, 11, 23), "2026-W47")

    def snapshot(artist: str, day: date, followers: int | None, popularity: int | None) -> dict:
        return {
            "artist_id": artist,
            "snapshot_date": day,
            "name": {A: "Aurora Band", B: "Blue Hour", C: "Calm"}[artist],
            "genres": [],
            "popularity": popularity,
            "followers": followers,
            "release_ids": [],
            "run_id": "r",
            "trace_id": "t" * 32,
            "captured_at": END,
        }

    with warehouse.begin() as connection:
        connection.execute(
            insert(artist_snapshots),
            [
                snapshot(A, monday, 1000, 50),
                snapshot(A, monday + timedelta(days=6), 1125, 50),
                snapshot(B, monday, 2000, 40),
                snapshot(B, monday + timedelta(days=3), 1900, 43),
                snapshot(C, monday, None, None),  # development tier: no figures
                snapshot(A, next_monday, 9999, 99),  # the next week: not in this digest
            ],
        )
        connection.execute(
            insert(artist_releases),
            {
                "artist_id": C,
                "album_id": "n" * 22,
                "name": "First Light",
                "album_type": "single",
                "release_date": "2026-11-18",
                "total_tracks": 1,
                "first_seen_date": monday + timedelta(days=2),
            },
        )
        connection.execute(
            insert(artist_events),
            {
                "artist_id": C,
                "snapshot_date": monday + timedelta(days=2),
                "event_type": "new_release",
                "subject": "n" * 22,
                "before": None,
                "after": "n" * 22,
                "delta": None,
                "run_id": "r",
                "trace_id": "t" * 32,
            },
        )
        weeks = artist_weeks(connection, start=monday, end=next_monday)
    draft = artist_digest(weeks, week=week)
    assert draft.text.splitlines() == [
        "# Artist digest 2026-W47: 3 watched artists, 1 new release",
        "- Calm released “First Light”.",
        "- Aurora Band gained 125 followers (12.5%), now 1,125.",
        "- Blue Hour lost 100 followers (5.0%), now 1,900.",
        "- Blue Hour's popularity went from 40 to 43.",
    ]


def test_counts_of_one_read_as_english() -> None:
    facts = PlaylistFacts("p" * 22, "most_played", 1, (A,), plays=1, listeners=1, top_plays=1)
    draft = describe_playlist(facts, {A: TrackName(A, "Solo", ("One",))}, period="2026-11-25")
    assert draft is not None
    assert draft.text == (
        "The 1 most played track of the last 1 day. 1 play by 1 listener. "
        "No. 1: Solo by One, played 1 time."
    )


def test_the_digest_names_the_week_s_significant_artist_trends(warehouse) -> None:
    monday, next_monday, week = date(2026, 11, 16), date(2026, 11, 23), "2026-W47"
    now = datetime(2026, 11, 23, tzinfo=UTC)

    def trend(artist: str, day: date, kind: str, plays: int, z: float, **numbers) -> dict:
        return {
            "day": day, "entity_type": "artist", "entity_id": artist, "kind": kind,
            "plays": plays, "listeners": plays // 2, "baseline_median": numbers.get("median", 100.0),
            "baseline_mad": 5.0, "baseline_days": 28, "baseline_level": numbers.get("median", 100.0),
            "robust_z": z, "ratio": numbers.get("ratio"), "last_7d_plays": 7 * plays,
            "prev_7d_plays": None, "wow_growth": numbers.get("wow"), "wow_z": numbers.get("wow_z"),
            "score": max(abs(z), abs(numbers.get("wow_z") or 0)),
            "significant": numbers.get("significant", True),
            "run_id": "r", "trace_id": "t" * 32, "detected_at": now,
        }  # fmt: skip

    with warehouse.begin() as connection:
        connection.execute(
            insert(catalogue_tracks),
            [{"track_id": "t" * 22, "artist_id": "r" * 22, "artist_name": "Riser",
              "name": "Up", "duration_ms": 1, "updated_at": now}],
        )  # fmt: skip
        connection.execute(
            insert(listening_trends),
            [
                trend("r" * 22, monday + timedelta(days=1), "rising", 400, 12.0, ratio=4.0),
                trend("r" * 22, monday + timedelta(days=2), "rising", 300, 9.0, ratio=3.0),
                trend("f" * 22, monday + timedelta(days=3), "falling", 10, -9.5, median=200.0),
                trend("n" * 22, monday + timedelta(days=4), "new", 250, 250.0),
                trend(
                    "w" * 22,
                    monday + timedelta(days=5),
                    "rising",
                    160,
                    2.0,
                    ratio=1.2,
                    wow=0.45,
                    wow_z=8.5,
                ),
                trend("q" * 22, monday + timedelta(days=5), "rising", 90, 6.0, significant=False),
                trend("o" * 22, next_monday, "rising", 900, 30.0, ratio=9.0),  # next week
            ],
        )
        trending = trending_artists(connection, start=monday, end=next_monday)
    draft = artist_digest([], week=week, trending=trending)
    assert draft.text.splitlines()[2:] == [
        "## Trending on the service",
        f"- {'n' * 22} is new here: 250 plays on 2026-11-20.",
        "- Riser rose to 400 plays on 2026-11-17, 4.0 times its usual 100.0.",
        f"- {'f' * 22} fell to 10 plays on 2026-11-19, from a usual 200.0.",
        f"- {'w' * 22} grew 45.0% in a week, to 1,120 plays in the 7 days to 2026-11-21.",
    ]
