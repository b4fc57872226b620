"""Texts from facts, and the checks an LLM rewrite must pass."""

from __future__ import annotations

import pytest

from spotify_agent.content.llm import check_rewrite
from spotify_agent.content.text import Draft, numbers_in
from tests.llm_fake import sample_draft


def test_a_draft_states_its_facts_and_is_identified_by_its_text() -> None:
    draft = sample_draft()
    assert draft.text == (
        "The 20 most played tracks of the last 28 days. 1,234 plays by 56 listeners."
    )
    assert draft.sentences_json()[1] == {
        "text": "1,234 plays by 56 listeners.",
        "facts": {"plays": 1234, "listeners": 56},
    }
    assert draft.sha256 == sample_draft().sha256
    other = Draft(draft.subject_type, draft.subject_id, draft.period, draft.sentences[:1])
    assert other.sha256 != draft.sha256


def test_numbers_are_read_as_written() -> None:
    # Digits after a letter count too ("W47", "top5"): a rewrite cannot hide a figure in a word.
    assert numbers_in("1,234 plays, 12.5% up, No. 1 in 2026-W47, top5 and +3") == [
        "1234",
        "12.5",
        "1",
        "2026",
        "47",
        "5",
        "3",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Your 20 favourites from 28 days: 1,234 plays, 56 listeners.", None),
        ("Your 20 favourites: 1,300 plays by 56 listeners.", "states numbers no fact gives: 1300"),
        ("Your top5 of 28 days: 20 tracks.", "states numbers no fact gives: 5"),
        ("Twenty tracks, a dozen new, from 28 days.", "writes figures as words: twenty, dozen"),
        ("20 tracks, 28 days, 56% new.", "states a percentage no fact gives"),
        ("20 tracks, 28 days. More on example.com", "contains a link or markup"),
        ("20 tracks, 28 days. More at https://example.com", "contains a link or markup"),
        ("<b>20</b> tracks", "contains a link or markup"),
        ("", "empty text"),
        ("x" * 301, "301 characters, more than 300"),
    ],
)
def test_a_rewrite_may_not_invent_figures_link_or_overflow(text: str, problem: str | None) -> None:
    problems = check_rewrite(text, sample_draft(), max_chars=300)
    assert problems == ([] if problem is None else [problem])
