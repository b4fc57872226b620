"""The ``content_generation`` jobs: draft a description per managed playlist from its facts (a
checked LLM rewrite when one is configured) with the text a reviewer reads, write the weekly
artist digest, record a reviewer's decision, and publish what may go out.

Idempotent: a text version is keyed by ``(subject, content_sha256)`` and the same facts give
the same text, so a re-run drafts no new version and a rejected text is not put to review again;
publishing reads the live description first and writes only a difference; the digest's object
key derives from its ISO week, so a re-run rewrites the same object with the same text.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from spotify_agent.content.digest import (
    artist_digest,
    artist_weeks,
    last_complete_week,
    trending_artists,
)
from spotify_agent.content.llm import LlmSettings, rewrite
from spotify_agent.content.playlists import (
    PlaylistFacts,
    describe_playlist,
    playlist_facts,
    track_names,
)
from spotify_agent.content.publish import publish_description
from spotify_agent.content.store import Version, set_status, store_draft
from spotify_agent.content.text import Draft
from spotify_agent.core.audit import Attempt
from spotify_agent.core.numbers import counts_text, format_number
from spotify_agent.core.objects import ensure_parent
from spotify_agent.core.quarantine import QuarantinedItem, quarantine_items
from spotify_agent.spotify.errors import orchestration_errors, write_outcome_unknown
from spotify_agent.spotify.models import Tier
from spotify_agent.spotify.playlist_store import ManagedPlaylist, managed
from spotify_agent.spotify.resilience import Resilient

DIGEST_PREFIX = "content/artist_digests"
# Who approved the template texts of a run that does not require a person.
AUTO_REVIEWER = "auto (require_approval=false)"
_KEY_FIELDS = ("subject_type", "subject_id", "content_sha256")


class SpotifyAccount(Protocol):
    """The clients of one Spotify connection (``SpotifyHook`` is one)."""

    @property
    def client(self) -> Any: ...

    @property
    def user_client(self) -> Any: ...

    @property
    def tier(self) -> Tier: ...


# The clients of a playlist's connection, by its id.
SpotifyAccounts = Callable[[str], SpotifyAccount]


class ContentLlm(Protocol):
    """An OpenAI-compatible chat-completions endpoint (``LlmHook`` is one): ``post`` sends a
    body and returns the decoded answer, raising on HTTP errors."""

    @property
    def llm_conn_id(self) -> str: ...

    @property
    def settings(self) -> LlmSettings: ...

    def post(self, body: dict[str, Any]) -> Any: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DraftedDescriptions:
    """The versions that differ from what Spotify shows (their XCom form), the text a reviewer
    reads, and what the drafting did."""

    pending: tuple[dict[str, Any], ...]
    review: str
    counts: dict[str, int]

    def as_result(self) -> dict[str, Any]:
        """What the task returns (``approve`` and ``publish_descriptions`` read it back)."""
        return {"pending": list(self.pending), "review": self.review, "counts": self.counts}

    def summary_line(self) -> str:
        return f"descriptions: {counts_text(self.counts)}"


@dataclass(frozen=True)
class ArtistDigest:
    """The digest written: its ISO week, object key and number of lines."""

    week: str
    object_key: str
    lines: int

    def as_result(self) -> dict[str, Any]:
        return asdict(self)

    def summary_line(self) -> str:
        return f"artist digest {self.week}: {self.lines} lines -> {self.object_key}"


@dataclass(frozen=True)
class PublishedDescriptions:
    published: int
    write_calls: int
    awaiting_review: int

    def as_result(self) -> dict[str, int]:
        return asdict(self)

    def summary_line(self) -> str:
        return f"published {format_number(self.published)} descriptions: " + counts_text(
            {"write_calls": self.write_calls, "awaiting_review": self.awaiting_review}
        )


def draft_descriptions(
    engine: Engine,
    accounts: SpotifyAccounts,
    playlist_ids: Sequence[str],
    attempt: Attempt,
    *,
    end: datetime,
    llm: ContentLlm | None = None,
    now: Callable[[], datetime] = _utcnow,
) -> DraftedDescriptions:
    """Draft the description of each managed playlist (``playlist_ids``, or every one) from its
    facts as of ``end``, stored and audited (``content_drafted``) with its facts. A text Spotify
    shows already is marked published; one a person rejected is not put to review again. LLM
    answers that fail the checks are quarantined and the template text kept. Spotify failures
    are raised as ``RetryLater`` / ``PermanentFailure`` naming the playlist's connection."""
    with engine.connect() as connection:
        playlists = managed(connection, playlist_ids)
        facts = [playlist_facts(connection, playlist, end=end) for playlist in playlists]
    drafting = _Drafting(engine, accounts, attempt, llm, now)
    for playlist, playlist_facts_ in zip(playlists, facts, strict=True):
        drafting.draft(playlist, playlist_facts_, period=end.date().isoformat())
    with engine.begin() as connection:
        drafting.counts["quarantined"] = quarantine_items(
            connection, drafting.quarantined, run=attempt.run, at=now()
        )
    return DraftedDescriptions(
        tuple(drafting.pending), "\n\n".join(drafting.review), drafting.counts
    )


class _Drafting:
    """One attempt's drafting: what it puts to review, what it set aside, its counts."""

    def __init__(
        self,
        engine: Engine,
        accounts: SpotifyAccounts,
        attempt: Attempt,
        llm: ContentLlm | None,
        now: Callable[[], datetime],
    ) -> None:
        self.engine, self.accounts, self.attempt = engine, accounts, attempt
        self.llm, self.now = llm, now
        self.pending: list[dict[str, Any]] = []
        self.review: list[str] = []
        self.quarantined: list[QuarantinedItem] = []
        self.counts = {"drafted": 0, "unchanged": 0, "already_live": 0, "llm_rewrites": 0}

    def draft(self, playlist: ManagedPlaylist, facts: PlaylistFacts, *, period: str) -> None:
        account = self.accounts(playlist.spotify_conn_id)
        with orchestration_errors(playlist.spotify_conn_id):
            names = track_names(Resilient(account.client), facts.track_ids[:1], tier=account.tier)
            live = Resilient(account.user_client).playlist(
                playlist.playlist_id, fields="description,name"
            )
        draft = describe_playlist(facts, names, period=period)
        if draft is None:
            return
        draft = self.rewritten(draft)
        live_text = html.unescape((live or {}).get("description") or "")
        version = self.store(draft, live_text)
        if version is None:
            return
        self.pending.append(
            {
                **version.key,
                "playlist_id": playlist.playlist_id,
                "spotify_conn_id": playlist.spotify_conn_id,
                "text": version.text,
                "generator": version.generator,
            }
        )
        name = (live or {}).get("name") or playlist.playlist_id
        self.review.append(review_entry(name, live_text, draft, version.generator))

    def rewritten(self, draft: Draft) -> Draft:
        if self.llm is None:
            return draft
        source = f"content_llm:{self.llm.llm_conn_id}"
        draft, rejected = rewrite(draft, self.llm.post, self.llm.settings, source=source)
        if rejected is not None:
            self.quarantined.append(rejected)
        else:
            self.counts["llm_rewrites"] += 1
        return draft

    def store(self, draft: Draft, live_text: str) -> Version | None:
        """Store the version; it, when a person is to review it, else ``None``."""
        at = self.now()
        with self.engine.begin() as connection:
            version = store_draft(
                connection, draft, run_id=self.attempt.run_id, trace_id=self.attempt.trace_id, at=at
            )
            if live_text == version.text:
                self.counts["already_live"] += 1
                if version.status != "published":
                    set_status(connection, [version.key], "published", at=at)
                return None
            if version.status == "rejected":
                # A person refused this exact text before: do not ask again.
                self.counts["unchanged"] += 1
                return None
            self.counts["drafted"] += 1
            self.attempt.record(
                connection,
                "content_drafted",
                counts={"rows_written": 1, "sentences": len(draft.sentences)},
                entity_type=draft.subject_type,
                entity_key=f"{draft.subject_id}:{version.content_sha256[:12]}",
                detail=version.generator,
                at=at,
            )
        return version


def review_entry(name: str, live: str, draft: Draft, generator: str) -> str:
    """What a reviewer reads of one description: the live text, the proposal, its facts."""
    lines = [
        f"### {name}",
        f"*Now:* {live or '(empty)'}",
        f"*Proposed ({generator}):* {draft.text}",
    ]
    lines.append("*Facts:*")
    for sentence in draft.sentences:
        facts = ", ".join(f"{key}={value}" for key, value in sentence.facts.items())
        lines.append(f"- {sentence.text} ({facts})")
    return "\n".join(lines)


def write_artist_digest(
    engine: Engine,
    objects: Any,
    end: datetime,
    attempt: Attempt,
    *,
    now: Callable[[], datetime] = _utcnow,
) -> ArtistDigest:
    """Write the digest of the last complete ISO week before ``end`` to
    ``content/artist_digests/<YYYY-Www>.md`` under ``objects`` and store its version, published
    and audited (``content_published``) the first time."""
    start, week_end, week = last_complete_week(end)
    with engine.connect() as connection:
        draft = artist_digest(
            artist_weeks(connection, start=start, end=week_end),
            week=week,
            trending=trending_artists(connection, start=start, end=week_end),
        )
    key = f"{DIGEST_PREFIX}/{week}.md"
    path = objects / key
    ensure_parent(path)
    # Keyed by the week: a re-run rewrites the same object with the same text.
    path.write_text(draft.text + "\n")
    at = now()
    with engine.begin() as connection:
        version = store_draft(
            connection,
            draft,
            run_id=attempt.run_id,
            trace_id=attempt.trace_id,
            at=at,
            object_key=key,
        )
        if version.status != "published":
            set_status(connection, [version.key], "published", at=at)
            attempt.record(
                connection,
                "content_published",
                counts={"rows_written": 1, "lines": len(draft.sentences)},
                entity_type=draft.subject_type,
                entity_key=f"{week}:{version.content_sha256[:12]}",
                detail=key,
                at=at,
            )
    return ArtistDigest(week, key, len(draft.sentences))


def record_review(
    engine: Engine,
    pending: Sequence[Mapping[str, Any]],
    attempt: Attempt,
    *,
    approved: bool,
    reviewer: str,
    now: Callable[[], datetime] = _utcnow,
) -> int:
    """Mark the ``pending`` versions approved or rejected by ``reviewer``, each audited
    (``content_approved`` / ``content_rejected``); returns how many were marked."""
    keys = [version_key(item) for item in pending]
    status = "approved" if approved else "rejected"
    at = now()
    with engine.begin() as connection:
        changed = set_status(connection, keys, status, at=at, reviewed_by=reviewer)
        for key in keys:
            attempt.record(
                connection,
                f"content_{status}",
                entity_type=key["subject_type"],
                entity_key=_entity_key(key),
                detail=f"reviewed by {reviewer}",
                at=at,
            )
    return changed


def publish_descriptions(
    engine: Engine,
    accounts: SpotifyAccounts,
    pending: Sequence[Mapping[str, Any]],
    attempt: Attempt,
    *,
    require_approval: bool,
    now: Callable[[], datetime] = _utcnow,
) -> PublishedDescriptions:
    """Put the ``pending`` descriptions on Spotify, each marked published and audited
    (``content_published``); a playlist that shows the text already gets no write. Without
    ``require_approval`` only template texts are approved (by :data:`AUTO_REVIEWER`) and
    published: a model's rewrite always waits for a person (``content_awaiting_review``)."""
    awaiting = 0
    if pending and not require_approval:
        pending, awaiting = _auto_approve(engine, pending, attempt, now)
    writes = 0
    for item in pending:
        with orchestration_errors(item["spotify_conn_id"]):
            made = publish_description(
                Resilient(accounts(item["spotify_conn_id"]).user_client),
                item["playlist_id"],
                item["text"],
                is_uncertain=write_outcome_unknown,
            )
        writes += made
        at = now()
        with engine.begin() as connection:
            set_status(connection, [version_key(item)], "published", at=at)
            attempt.record(
                connection,
                "content_published",
                counts={"write_calls": made},
                entity_type=item["subject_type"],
                entity_key=_entity_key(item),
                at=at,
            )
    return PublishedDescriptions(len(pending), writes, awaiting)


def _auto_approve(
    engine: Engine,
    pending: Sequence[Mapping[str, Any]],
    attempt: Attempt,
    now: Callable[[], datetime],
) -> tuple[list[Mapping[str, Any]], int]:
    """Approve the template texts; audit the model's rewrites as waiting for a person."""
    # Only template text (facts and names, nothing else) goes out unreviewed; a model's
    # rewrite always waits for a person, whatever the run says.
    unreviewed = [item for item in pending if is_llm(item)]
    templates = [item for item in pending if not is_llm(item)]
    record_review(engine, templates, attempt, approved=True, reviewer=AUTO_REVIEWER, now=now)
    at = now()
    with engine.begin() as connection:
        for item in unreviewed:
            attempt.record(
                connection,
                "content_awaiting_review",
                entity_type=item["subject_type"],
                entity_key=_entity_key(item),
                detail=f"{item['generator']} text is published only after approval",
                at=at,
            )
    return templates, len(unreviewed)


def is_llm(item: Mapping[str, Any]) -> bool:
    return str(item.get("generator", "")).startswith("llm:")


def version_key(item: Mapping[str, Any]) -> dict[str, str]:
    return {name: item[name] for name in _KEY_FIELDS}


def _entity_key(item: Mapping[str, Any]) -> str:
    return f"{item['subject_id']}:{item['content_sha256'][:12]}"
