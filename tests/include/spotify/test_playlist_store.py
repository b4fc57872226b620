"""playlist_update's warehouse side on SQLite and PostgreSQL: managed playlists, targets, the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from spotify_agent.core.run_conf import InvalidRunConf
from spotify_agent.spotify.confs import ManagedPlaylistSpec, PlaylistUpdateConf
from spotify_agent.spotify.playlist_store import (
    UnknownPlaylists,
    manage,
    managed,
    record_plan,
    record_sync,
    target_track_ids,
    unmanage,
)
from spotify_agent.spotify.playlists import SyncResult
from spotify_agent.warehouse.schema import listening_events, playlist_syncs

END = datetime(2026, 11, 25, tzinfo=UTC)
P1, P2 = "1" * 22, "2" * 22
TRACKS = [f"{letter}" * 22 for letter in "abcdef"]


def _spec(playlist_id: str, **fields: object) -> ManagedPlaylistSpec:
    return ManagedPlaylistSpec.model_validate({"playlist_id": playlist_id, **fields})


def test_manage_change_and_unmanage(warehouse) -> None:
    with warehouse.begin() as connection:
        manage(
            connection,
            [_spec(P1), _spec(P2, rule="track_list", track_ids=TRACKS[:2])],
            run_id="r1",
            at=END,
        )
        manage(connection, [_spec(P1, size=10)], run_id="r2", at=END)
        assert [(p.playlist_id, p.size) for p in managed(connection)] == [(P1, 10), (P2, 50)]
        assert managed(connection, [P2])[0].track_ids == tuple(TRACKS[:2])
        assert unmanage(connection, [P2], at=END) == 1
        assert [p.playlist_id for p in managed(connection)] == [P1]
        with pytest.raises(UnknownPlaylists, match=f"playlist_ids: not managed .*{P2}"):
            managed(connection, [P1, P2])


def test_most_played_ranks_the_window_by_plays_then_track_id(warehouse) -> None:
    plays = {TRACKS[0]: 3, TRACKS[1]: 5, TRACKS[2]: 3, TRACKS[3]: 1}
    rows = [
        {
            "user_id": f"u{n}",
            "played_at": END - timedelta(hours=1 + n),
            "track_id": track,
            "source": "test",
            "run_id": "r",
            "ingested_at": END,
        }
        for track, count in plays.items()
        for n in range(count)
    ]
    # Outside the 7-day window on both sides: never counted.
    rows.append(
        {**rows[0], "user_id": "old", "played_at": END - timedelta(days=8), "track_id": TRACKS[4]}
    )
    rows.append({**rows[0], "user_id": "late", "played_at": END, "track_id": TRACKS[5]})
    with warehouse.begin() as connection:
        connection.execute(insert(listening_events), rows)
        manage(connection, [_spec(P1, size=3, window_days=7)], run_id="r", at=END)
        (playlist,) = managed(connection)
        assert target_track_ids(connection, playlist, end=END) == [TRACKS[1], TRACKS[0], TRACKS[2]]
        # a run later that day ranks the same whole days: that day's plays wait for its end
        today = [{**rows[-1], "user_id": f"today{n}", "played_at": END + timedelta(hours=2)}
                 for n in range(5)]  # fmt: skip
        connection.execute(insert(listening_events), today)
        later = target_track_ids(connection, playlist, end=END + timedelta(hours=23))
        assert later == [TRACKS[1], TRACKS[0], TRACKS[2]]


def _result(**fields: object) -> SyncResult:
    base = {
        "playlist_id": P1,
        "snapshot_before": "s0",
        "snapshot_after": "s1",
        "strategy": "edit",
        "added": ("spotify:track:" + TRACKS[0],),
        "removed": (),
        "moved": 0,
        "write_calls": 1,
    }
    return SyncResult(**{**base, **fields})  # type: ignore[arg-type]


def _log(warehouse) -> list[dict[str, object]]:
    with warehouse.connect() as connection:
        return [dict(row) for row in connection.execute(select(playlist_syncs)).mappings()]


def test_a_retry_after_a_crash_keeps_the_planned_diff(warehouse) -> None:
    common = {"target_size": 1, "run_id": "r1", "trace_id": "t" * 32, "at": END}
    with warehouse.begin() as connection:
        record_plan(connection, _result(snapshot_after="s0", write_calls=0), **common)
    assert [(r["status"], r["snapshot_after"]) for r in _log(warehouse)] == [("planned", None)]
    # The retry finds the playlist already equal (the crashed attempt's writes had landed).
    unchanged = _result(snapshot_before="s1", added=(), strategy="none", write_calls=0)
    with warehouse.begin() as connection:
        status = record_sync(connection, unchanged, quarantined=0, **common)
    (row,) = _log(warehouse)
    assert status == "applied"
    assert (row["snapshot_before"], row["snapshot_after"], row["added"]) == (
        "s0",
        "s1",
        ["spotify:track:" + TRACKS[0]],
    )


def test_a_sync_with_nothing_to_do_is_logged_unchanged(warehouse) -> None:
    with warehouse.begin() as connection:
        result = _result(added=(), strategy="none", write_calls=0, snapshot_after="s0")
        status = record_sync(
            connection, result, target_size=1, quarantined=0, run_id="r2", trace_id="t" * 32, at=END
        )
    assert status == "unchanged"
    assert [(r["status"], r["write_calls"]) for r in _log(warehouse)] == [("unchanged", 0)]


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"playlist_ids": ["spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"]}, "playlist_ids[0]"),
        ({"manage": [{"playlist_id": P1, "rule": "track_list"}]}, "track_ids: a track_list"),
        ({"manage": [{"playlist_id": P1, "track_ids": TRACKS[:1]}]}, "track_ids: only a track"),
        ({"manage": [{"playlist_id": P1, "size": 0}]}, "manage[0].size"),
        ({"manage": [{"playlist_id": P1}], "unmanage_playlist_ids": [P1]}, "unmanage_playlist_ids"),
    ],
)
def test_bad_conf_is_refused_naming_the_field(conf: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRunConf) as caught:
        PlaylistUpdateConf.parse(conf)
    assert any(field in problem for problem in caught.value.problems), caught.value.problems
