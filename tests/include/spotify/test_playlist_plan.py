"""plan_sync: the diff between a live playlist and its target, on cases with known answers."""

from __future__ import annotations

import random

import pytest

from spotify_agent.spotify.playlists import (
    MAX_ITEMS_PER_CALL,
    Add,
    Move,
    Remove,
    Replace,
    apply_locally,
    plan_sync,
    unique,
)


def uris(count: int, prefix: str = "t") -> list[str]:
    return [f"spotify:track:{prefix}{index:05d}" for index in range(count)]


def test_an_equal_playlist_needs_no_write() -> None:
    plan = plan_sync(uris(30), uris(30))
    assert plan.strategy == "none"
    assert plan.calls == 0


def test_one_track_moved_to_the_end_is_one_move_keeping_everything_else() -> None:
    live = uris(40)
    target = live[1:] + live[:1]
    plan = plan_sync(live, target)
    assert plan.writes == (Move(range_start=0, insert_before=40, range_length=1),)
    assert (plan.added, plan.removed, plan.moved) == ((), (), 1)
    assert apply_locally(live, plan) == target


def test_a_block_out_of_place_moves_in_one_call() -> None:
    live = uris(10)
    target = live[5:8] + live[:5] + live[8:]
    plan = plan_sync(live, target)
    assert plan.calls == 1
    assert apply_locally(live, plan) == target


def test_a_small_change_to_a_long_playlist_removes_and_inserts_by_position() -> None:
    live = uris(250)
    target = [*live[:10], *uris(2, "new"), *live[10:45], *live[47:]]  # 2 out, 2 in at rank 11
    plan = plan_sync(live, target)
    # 2 calls, where replacing 250 tracks would take 3; kept tracks keep their added date.
    assert plan.strategy == "edit"
    assert plan.writes == (
        Remove(
            tuple((uri, (position,)) for position, uri in enumerate(live) if 45 <= position < 47)
        ),
        Add(tuple(uris(2, "new")), 10),
    )
    assert plan.added == tuple(uris(2, "new"))
    assert plan.removed == tuple(live[45:47])
    assert apply_locally(live, plan) == target


def test_a_repeated_track_loses_every_copy_and_is_inserted_once() -> None:
    """Spotify has been seen to ignore `positions`: never rely on removing only some copies."""
    live = [*uris(150), uris(150)[3]]
    plan = plan_sync(live, uris(150))
    assert plan.strategy == "edit"
    assert plan.writes == (
        Remove(((uris(150)[3], (3, 150)),)),
        Add((uris(150)[3],), 3),
    )
    assert (plan.added, plan.removed) == ((), ())  # the playlist still holds that track
    assert apply_locally(live, plan) == uris(150)


def test_a_short_playlist_that_needs_more_than_one_edit_is_replaced_in_one_call() -> None:
    live = uris(50)
    target = [*live[:10], *uris(2, "new"), *live[10:45], *live[47:]]
    plan = plan_sync(live, target)
    assert plan.writes == (Replace(tuple(target)),)
    assert (plan.added, plan.removed) == (tuple(uris(2, "new")), tuple(live[45:47]))


def test_a_shuffled_playlist_is_replaced_in_one_call_rather_than_many_moves() -> None:
    live = uris(60)
    target = list(reversed(live))
    plan = plan_sync(live, target)
    assert plan.strategy == "replace"
    assert plan.writes == (Replace(tuple(target)),)
    assert apply_locally(live, plan) == target


def test_no_call_carries_more_than_100_items() -> None:
    live = uris(230, "old")
    target = uris(250)
    plan = plan_sync(live, target)
    # Replacing takes 3 calls (100 + 100 + 50); removing 230 and adding 250 would take 6.
    assert plan.strategy == "replace"
    assert [len(write.uris) for write in plan.writes] == [100, 100, 50]  # type: ignore[union-attr]
    assert apply_locally(live, plan) == target

    # Removing 150 of 350 takes 2 calls, as replacing with 200 would: the edit keeps added dates.
    removal = plan_sync(uris(350), uris(350)[:200])
    assert removal.strategy == "edit"
    assert [len(write.items) for write in removal.writes] == [100, 50]  # type: ignore[union-attr]


def test_an_empty_target_empties_the_playlist() -> None:
    plan = plan_sync(uris(3), [])
    assert apply_locally(uris(3), plan) == []
    assert plan.calls == 1


@pytest.mark.parametrize("seed", range(5))
def test_every_plan_reaches_its_target_in_no_more_calls_than_replacing(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    for _ in range(400):
        pool = uris(rng.randint(1, 300))
        live = [rng.choice(pool) for _ in range(rng.randint(0, 250))]
        if rng.random() < 0.5:  # a small change of the live list, the usual case
            target = unique(live)
            for _ in range(rng.randint(0, 5)):
                if target and rng.random() < 0.5:
                    target.pop(rng.randrange(len(target)))
                target.insert(rng.randint(0, len(target)), rng.choice(pool))
        else:
            target = [rng.choice(pool) for _ in range(rng.randint(0, 250))]
        plan = plan_sync(live, target)
        assert apply_locally(live, plan) == unique(target)
        replace_calls = max(1, -(-len(unique(target)) // MAX_ITEMS_PER_CALL))
        assert plan.calls <= replace_calls or plan.calls == 0
        for write in plan.writes:
            size = (
                len(write.items) if isinstance(write, Remove) else len(getattr(write, "uris", ()))
            )
            assert size <= MAX_ITEMS_PER_CALL
            if isinstance(write, Remove):  # every copy of a URI, so ignored positions are harmless
                for uri, positions in write.items:
                    assert list(positions) == [i for i, u in enumerate(live) if u == uri]
