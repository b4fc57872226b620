"""Tasks of ``content_generation``: draft, write the digest, ask a person, publish.
The jobs are :func:`spotify_agent.content.content_generation.draft_descriptions`,
:func:`~spotify_agent.content.content_generation.write_artist_digest`,
:func:`~spotify_agent.content.content_generation.record_review` (the approval's decision) and
:func:`~spotify_agent.content.content_generation.publish_descriptions`.

``draft_descriptions`` returns ``{"pending": [...], "review": "<markdown>"}``: the versions that
differ from what Spotify shows, and the text a reviewer reads in Airflow's Required Actions.
Which kinds a run writes, the LLM connection (conf or variable), the review gate's skips and
the reading of Airflow's approval event stay here.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator

from spotify_agent.content.confs import ContentGenerationConf
from spotify_agent_airflow.conf import read_conf
from spotify_agent_airflow.context import interval_end
from spotify_agent_airflow.operators.common import WarehouseOperator

log = logging.getLogger(__name__)

LLM_VARIABLE = "content_llm_conn_id"
DRAFT_TASK_ID = "draft_descriptions"


def llm_conn_id(conf: ContentGenerationConf) -> str | None:
    if conf.llm_conn_id:
        return conf.llm_conn_id
    from airflow.sdk import Variable

    return Variable.get(LLM_VARIABLE, default=None) or None


class DraftDescriptionsOperator(WarehouseOperator):
    """Drafts a description per managed playlist; returns the versions Spotify does not show yet."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.content import content_generation as job
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.llm import LlmHook
        from spotify_agent_airflow.hooks.spotify import SpotifyHook

        conf = read_conf(context, ContentGenerationConf)
        if "playlist_descriptions" not in conf.kinds:
            return {"pending": [], "review": ""}
        llm = llm_conn_id(conf)
        drafted = job.draft_descriptions(
            self.warehouse_engine(),
            SpotifyHook,
            conf.playlist_ids,
            attempt_of(context),
            end=interval_end(context),
            llm=LlmHook(llm) if llm else None,
        )
        log.info("%s", drafted.summary_line())
        return drafted.as_result()


class WriteArtistDigestOperator(WarehouseOperator):
    """Writes the digest of the last complete ISO week to the object store and stores the version."""

    def execute(self, context: Any) -> dict[str, Any]:
        from spotify_agent.content import content_generation as job
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.object_store import object_store_root

        conf = read_conf(context, ContentGenerationConf)
        if "artist_digest" not in conf.kinds:
            return {}
        digest = job.write_artist_digest(
            self.warehouse_engine(),
            object_store_root(),
            interval_end(context),
            attempt_of(context),
        )
        log.info("%s", digest.summary_line())
        return digest.as_result()


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
        from spotify_agent.content import content_generation as job
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.warehouse import WarehouseHook

        chosen = (event.get("chosen_options") or [None])[0]
        if event.get("timedout"):
            # Nobody answered: the texts stay drafted and the next run asks again.
            log.warning("no answer within the response timeout; nothing is published")
        elif "error" not in event and chosen in (self.APPROVE, self.REJECT):
            drafts = context["ti"].xcom_pull(task_ids=DRAFT_TASK_ID) or {}
            job.record_review(
                WarehouseHook(self.warehouse_conn_id).get_engine(),
                drafts.get("pending", []),
                attempt_of(context),
                approved=chosen == self.APPROVE,
                reviewer=reviewer_name(event.get("responded_by_user")),
            )
        return super().execute_complete(context, event)


def reviewer_name(user: Any) -> str:
    """Who answered, from the approval event's ``responded_by_user`` (a dict or an object)."""
    if isinstance(user, dict):
        return str(user.get("name") or user.get("id") or "unknown")
    return str(getattr(user, "name", None) or user or "unknown")


class PublishDescriptionsOperator(WarehouseOperator):
    """Puts approved descriptions on Spotify; a description Spotify already shows is not written."""

    template_fields = ("drafts",)

    def __init__(self, *, drafts: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drafts = drafts

    def execute(self, context: Any) -> dict[str, int]:
        from spotify_agent.content import content_generation as job
        from spotify_agent_airflow.audit import attempt_of
        from spotify_agent_airflow.hooks.spotify import SpotifyHook

        conf = read_conf(context, ContentGenerationConf)
        published = job.publish_descriptions(
            self.warehouse_engine(),
            SpotifyHook,
            (self.drafts or {}).get("pending", []),
            attempt_of(context),
            require_approval=conf.require_approval,
        )
        log.info("%s", published.summary_line())
        return published.as_result()
