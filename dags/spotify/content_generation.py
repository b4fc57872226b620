"""
### content_generation

Writes playlist descriptions and the weekly artist digest from warehouse facts, and publishes
descriptions to Spotify after a person approves them.

* **Runs** after `playlist_update` or `artist_monitoring` update their tables (Asset
  schedule), when `trend_detection` finds significant trends (its `start_content` task starts
  a run: Airflow queues no unpartitioned DAG from that DAG's day-keyed events), or when
  triggered.
* **Playlist descriptions** (one per managed playlist): a template states the playlist's facts
  (tracks, plays and listeners in the window, the No. 1 track, counted over whole UTC days before
  the run's day, so every run of one day states the same facts and drafts nothing new); every
  sentence is stored with the numbers behind it. With an LLM connection (`llm_conn_id` or the `content_llm_conn_id`
  variable; off by default) the text may be rewritten, but only an answer that states no number
  the facts lack, has no link or markup and fits 300 characters is used; the rest is quarantined
  and the template text stays.
* **Approval**: the new texts wait in Airflow's *Required Actions* (`approve` task) with the
  current description, the proposal and its facts. *Approve* publishes, *Reject* marks them
  rejected (the same text is not asked again); no answer in 2 days counts as *Reject*.
  `require_approval: false` publishes without asking (the demo does this). While a review
  waits, later runs queue behind it (one active run), so two reviews never overlap.
* **Publishing** reads the live description first and writes only a difference, so re-publishing
  is a no-op.
* **Artist digest**: Markdown for the last complete ISO week (releases, follower and popularity
  moves, then the artists trending on the service: significant `listening_trends`), written to `content/artist_digests/<YYYY-Www>.md` in the object store.
* **Versions**: every text is kept in `content_versions`, keyed by subject and SHA-256, with its
  status (drafted, approved, rejected, published), reviewer and generator.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import TriggerRule, dag

from spotify_agent.content.confs import ContentGenerationConf
from spotify_agent_airflow.assets import ARTIST_SNAPSHOTS, PLAYLIST_SYNCS
from spotify_agent_airflow.defaults import SPOTIFY_POOL, dag_args
from spotify_agent_airflow.operators.content_generation import (
    DRAFT_TASK_ID,
    ContentApprovalOperator,
    DraftDescriptionsOperator,
    PublishDescriptionsOperator,
    ReviewGateOperator,
    WriteArtistDigestOperator,
)

DRAFTS = "{{ ti.xcom_pull(task_ids='" + DRAFT_TASK_ID + "') }}"


@dag(
    schedule=(PLAYLIST_SYNCS | ARTIST_SNAPSHOTS),
    **dag_args(
        ContentGenerationConf,
        deadline=timedelta(days=2, hours=2),
        execution_timeout=timedelta(minutes=20),
    ),
    render_template_as_native_obj=True,
    tags=["spotify", "content"],
    doc_md=__doc__,
)
def content_generation() -> None:
    drafts = DraftDescriptionsOperator(task_id=DRAFT_TASK_ID, pool=SPOTIFY_POOL)
    WriteArtistDigestOperator(task_id="write_artist_digest")
    gate = ReviewGateOperator(task_id="review_gate", drafts=drafts.output)
    approve = ContentApprovalOperator(
        task_id="approve",
        subject="Publish new playlist descriptions?",
        body="{{ ti.xcom_pull(task_ids='" + DRAFT_TASK_ID + "')['review'] }}",
        defaults="Reject",
        response_timeout=timedelta(days=2),
    )
    publish = PublishDescriptionsOperator(
        task_id="publish_descriptions",
        drafts=DRAFTS,
        pool=SPOTIFY_POOL,
        trigger_rule=TriggerRule.NONE_FAILED,
    )
    gate >> approve >> publish


content_generation()
