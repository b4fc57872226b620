"""Tasks of ``content_generation``: draft, write the digest, ask a person, publish.

``draft_descriptions`` returns ``{"pending": [...], "review": "<markdown>"}``: the versions that
differ from what Spotify shows, and the text a reviewer reads in Airflow's Required Actions.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator

from spotify_agent.content.confs import ContentGenerationConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end

log = logging.getLogger(__name__)

DIGEST_PREFIX = "content/artist_digests"
LLM_VARIABLE = "content_llm_conn_id"
DRAFT_TASK_ID = "draft_descriptions"


def llm_conn_id(conf: ContentGenerationConf) -> str | None:
    if conf.llm_conn_id:
        return conf.llm_conn_id
    from airflow.sdk import Variable

    return Variable.get(LLM_VARIABLE, default=None) or None


class DraftDescriptionsOperator(BaseOperator):
    """Drafts a description per managed playlist; returns the versions Spotify does not show yet."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.content.llm import rewrite
        from spotify_agent.content.playlists import describe_playlist, playlist_facts, track_names
        from spotify_agent.content.store import set_status, store_draft
        from spotify_agent.core.quarantine import QuarantinedItem, quarantine_items
        from spotify_agent.spotify.errors import orchestration_errors
        from spotify_agent.spotify.playlist_store import managed
        from spotify_agent.spotify.resilience import Resilient
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.llm import LlmHook
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, ContentGenerationConf)
        if "playlist_descriptions" not in conf.kinds:
            return {"pending": [], "review": ""}
        ref = run_ref(context)
        end = interval_end(context)
        llm = llm_conn_id(conf)
        llm_hook = LlmHook(llm) if llm else None
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            playlists = managed(connection, conf.playlist_ids)
            facts = [playlist_facts(connection, playlist, end=end) for playlist in playlists]

        pending: list[dict[str, Any]] = []
        review: list[str] = []
        quarantined: list[QuarantinedItem] = []
        counts = {"drafted": 0, "unchanged": 0, "already_live": 0, "llm_rewrites": 0}
        for playlist, playlist_facts_ in zip(playlists, facts, strict=True):
            spotify = SpotifyHook(playlist.spotify_conn_id)
            with orchestration_errors(playlist.spotify_conn_id):
                names = track_names(
                    Resilient(spotify.client), playlist_facts_.track_ids[:1], tier=spotify.tier
                )
                live = Resilient(spotify.user_client).playlist(
                    playlist.playlist_id, fields="description,name"
                )
            draft = describe_playlist(playlist_facts_, names, period=end.date().isoformat())
            if draft is None:
                continue
            if llm_hook is not None:
                draft, rejected = rewrite(
                    draft, llm_hook.post, llm_hook.settings, source=f"content_llm:{llm}"
                )
                if rejected is not None:
                    quarantined.append(rejected)
                else:
                    counts["llm_rewrites"] += 1
            now = datetime.now(UTC)
            with engine.begin() as connection:
                version = store_draft(
                    connection, draft, run_id=ref.run_id, trace_id=ref.trace_id, at=now
                )
                live_text = html.unescape((live or {}).get("description") or "")
                if live_text == version.text:
                    counts["already_live"] += 1
                    if version.status != "published":
                        set_status(connection, [version.key], "published", at=now)
                    continue
                if version.status == "rejected":
                    # A person refused this exact text before: do not ask again.
                    counts["unchanged"] += 1
                    continue
                counts["drafted"] += 1
                audit_action(
                    connection,
                    context,
                    "content_drafted",
                    counts={"rows_written": 1, "sentences": len(draft.sentences)},
                    entity_type=draft.subject_type,
                    entity_key=f"{draft.subject_id}:{version.content_sha256[:12]}",
                    detail=version.generator,
                )
            pending.append(
                {
                    **version.key,
                    "playlist_id": playlist.playlist_id,
                    "spotify_conn_id": playlist.spotify_conn_id,
                    "text": version.text,
                    "generator": version.generator,
                }
            )
            review.append(
                _review_entry(
                    (live or {}).get("name") or playlist.playlist_id,
                    live_text,
                    draft,
                    version.generator,
                )
            )
        with engine.begin() as connection:
            counts["quarantined"] = quarantine_items(
                connection, quarantined, run=ref, at=datetime.now(UTC)
            )
        log.info("descriptions: %s", counts)
        return {"pending": pending, "review": "\n\n".join(review), "counts": counts}


def _review_entry(name: str, live: str, draft: Any, generator: str) -> str:
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


class WriteArtistDigestOperator(BaseOperator):
    """Writes the digest of the last complete ISO week to the object store and stores the version."""

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.content.digest import (
            artist_digest,
            artist_weeks,
            last_complete_week,
            trending_artists,
        )
        from spotify_agent.content.store import set_status, store_draft
        from spotify_agent.core.objects import ensure_parent
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.context import run_ref
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, ContentGenerationConf)
        if "artist_digest" not in conf.kinds:
            return {}
        ref = run_ref(context)
        start, end, week = last_complete_week(interval_end(context))
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        with engine.connect() as connection:
            draft = artist_digest(
                artist_weeks(connection, start=start, end=end),
                week=week,
                trending=trending_artists(connection, start=start, end=end),
            )
        key = f"{DIGEST_PREFIX}/{week}.md"
        path = object_store_root() / key
        ensure_parent(path)
        # Keyed by the week: a re-run rewrites the same object with the same text.
        path.write_text(draft.text + "\n")
        now = datetime.now(UTC)
        with engine.begin() as connection:
            version = store_draft(
                connection, draft, run_id=ref.run_id, trace_id=ref.trace_id, at=now, object_key=key
            )
            if version.status != "published":
                set_status(connection, [version.key], "published", at=now)
                audit_action(
                    connection,
                    context,
                    "content_published",
                    counts={"rows_written": 1, "lines": len(draft.sentences)},
                    entity_type=draft.subject_type,
                    entity_key=f"{week}:{version.content_sha256[:12]}",
                    detail=key,
                )
        log.info("artist digest %s: %d lines -> %s", week, len(draft.sentences), key)
        return {"week": week, "object_key": key, "lines": len(draft.sentences)}


class ReviewGateOperator(BaseOperator):
    """Skips the approval step when there is nothing to review or the run does not require it."""

    template_fields = ("drafts",)

    def __init__(self, *, drafts: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drafts = drafts

    def execute(self, context: Any) -> int:
        from airflow.sdk.exceptions import AirflowSkipException

        conf = read_conf(context, ContentGenerationConf)
        pending = (self.drafts or {}).get("pending", [])
        if not pending:
            raise AirflowSkipException("no new description to review")
        if not conf.require_approval:
            raise AirflowSkipException(
                f"{len(pending)} descriptions publish without review (require_approval is off)"
            )
        log.info("%d descriptions wait for a reviewer in Required Actions", len(pending))
        return len(pending)


class ContentApprovalOperator(ApprovalOperator):
    """Airflow's approval step, recording the decision on the versions it covers.

    On "Reject" the parent skips the publish task; the versions are marked ``rejected`` first,
    so the same texts are not put to a reviewer again.
    """

    def __init__(self, *, warehouse_conn_id: str = "warehouse_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        chosen = (event.get("chosen_options") or [None])[0]
        if event.get("timedout"):
            # Nobody answered: the texts stay drafted and the next run asks again.
            log.warning("no answer within the response timeout; nothing is published")
        elif "error" not in event and chosen in (self.APPROVE, self.REJECT):
            reviewer = _reviewer(event.get("responded_by_user"))
            drafts = context["ti"].xcom_pull(task_ids=DRAFT_TASK_ID) or {}
            record_review(
                context,
                drafts.get("pending", []),
                approved=chosen == self.APPROVE,
                reviewer=reviewer,
                warehouse_conn_id=self.warehouse_conn_id,
            )
        return super().execute_complete(context, event)


def _reviewer(user: Any) -> str:
    if isinstance(user, dict):
        return str(user.get("name") or user.get("id") or "unknown")
    return str(getattr(user, "name", None) or user or "unknown")


def record_review(
    context: Any,
    pending: Sequence[dict[str, Any]],
    *,
    approved: bool,
    reviewer: str,
    warehouse_conn_id: str,
) -> None:
    from spotify_agent.content.store import set_status
    from spotify_agent_airflow.audit import audit_action
    from spotify_agent_airflow.hooks.warehouse import WarehouseHook

    keys = [_key(item) for item in pending]
    status = "approved" if approved else "rejected"
    with WarehouseHook(warehouse_conn_id).get_engine().begin() as connection:
        set_status(connection, keys, status, at=datetime.now(UTC), reviewed_by=reviewer)
        for key in keys:
            audit_action(
                connection,
                context,
                f"content_{status}",
                entity_type=key["subject_type"],
                entity_key=f"{key['subject_id']}:{key['content_sha256'][:12]}",
                detail=f"reviewed by {reviewer}",
            )


def is_llm(item: dict[str, Any]) -> bool:
    return str(item.get("generator", "")).startswith("llm:")


def _key(item: dict[str, Any]) -> dict[str, str]:
    return {name: item[name] for name in ("subject_type", "subject_id", "content_sha256")}


class PublishDescriptionsOperator(BaseOperator):
    """Puts approved descriptions on Spotify; a description Spotify already shows is not written."""

    template_fields = ("drafts",)

    def __init__(
        self, *, drafts: Any, warehouse_conn_id: str = "warehouse_default", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.drafts = drafts
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.content.publish import publish_description
        from spotify_agent.content.store import set_status
        from spotify_agent.spotify.errors import orchestration_errors, write_outcome_unknown
        from spotify_agent.spotify.resilience import Resilient
        from spotify_agent_airflow.audit import audit_action
        from spotify_agent_airflow.hooks.spotify import SpotifyHook
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        conf = read_conf(context, ContentGenerationConf)
        pending = (self.drafts or {}).get("pending", [])
        engine = WarehouseHook(self.warehouse_conn_id).get_engine()
        counts = {"published": 0, "write_calls": 0, "awaiting_review": 0}
        if pending and not conf.require_approval:
            # Only template text (facts and names, nothing else) goes out unreviewed; a model's
            # rewrite always waits for a person, whatever the run says.
            unreviewed = [item for item in pending if is_llm(item)]
            pending = [item for item in pending if not is_llm(item)]
            record_review(
                context,
                pending,
                approved=True,
                reviewer="auto (require_approval=false)",
                warehouse_conn_id=self.warehouse_conn_id,
            )
            with engine.begin() as connection:
                for item in unreviewed:
                    audit_action(
                        connection,
                        context,
                        "content_awaiting_review",
                        entity_type=item["subject_type"],
                        entity_key=f"{item['subject_id']}:{item['content_sha256'][:12]}",
                        detail=f"{item['generator']} text is published only after approval",
                    )
            counts["awaiting_review"] = len(unreviewed)
        for item in pending:
            spotify = SpotifyHook(item["spotify_conn_id"])
            with orchestration_errors(item["spotify_conn_id"]):
                writes = publish_description(
                    Resilient(spotify.user_client),
                    item["playlist_id"],
                    item["text"],
                    is_uncertain=write_outcome_unknown,
                )
            counts["write_calls"] += writes
            counts["published"] += 1
            with engine.begin() as connection:
                set_status(connection, [_key(item)], "published", at=datetime.now(UTC))
                audit_action(
                    connection,
                    context,
                    "content_published",
                    counts={"write_calls": writes},
                    entity_type=item["subject_type"],
                    entity_key=f"{item['subject_id']}:{item['content_sha256'][:12]}",
                )
        log.info("published: %s", counts)
        return counts
