"""LlmHook and the LLM rewrite against a real chat-completions endpoint on loopback."""

from __future__ import annotations

import json

import pytest

from spotify_agent.content.llm import LlmSettings, rewrite
from spotify_agent_airflow.hooks.llm import LlmHook
from tests.llm_fake import run_fake_llm, sample_draft

SETTINGS = LlmSettings(model="fake-model", max_chars=300)


def test_a_good_answer_from_the_endpoint_replaces_the_template_text(monkeypatch) -> None:
    with run_fake_llm() as llm:
        llm.answer_text("Your 20 most played of 28 days: 1,234 plays from 56 listeners.")
        draft, rejected = rewrite(
            sample_draft(), _hook(monkeypatch, llm).post, SETTINGS, source="content_llm:x"
        )
    assert rejected is None
    assert draft.text == "Your 20 most played of 28 days: 1,234 plays from 56 listeners."
    assert draft.generator == "llm:fake-model"
    assert draft.sentences == sample_draft().sentences  # the facts stay with the version
    (sent,) = llm.requests
    assert sent["model"] == "fake-model"
    assert "1,234 plays by 56 listeners." in sent["messages"][1]["content"]
    assert llm.headers[0]["Authorization"] == "Bearer test-llm-key"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, {"choices": [{"message": {"content": "Now 99 tracks!"}}]}, "states numbers"),
        (200, {"unexpected": True}, "answer has no choices[0].message.content"),
        (500, {"error": "overloaded"}, "request failed: HTTPError"),
    ],
)
def test_a_bad_answer_keeps_the_template_and_is_quarantined(
    monkeypatch, status, body, reason
) -> None:
    with run_fake_llm() as llm:
        llm.answer_raw(status, json.dumps(body).encode())
        draft, rejected = rewrite(
            sample_draft(), _hook(monkeypatch, llm).post, SETTINGS, source="content_llm:x"
        )
    assert draft == sample_draft()
    assert rejected is not None and reason in rejected.reason
    assert rejected.source == "content_llm:x"


def _hook(monkeypatch, llm) -> LlmHook:
    monkeypatch.setenv("AIRFLOW_CONN_CONTENT_LLM_TEST", json.dumps(llm.connection()))
    return LlmHook("content_llm_test")


def test_the_hook_reads_model_and_limit_from_the_connection(monkeypatch) -> None:
    with run_fake_llm() as llm:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CONTENT_LLM_TEST", json.dumps(llm.connection(max_chars=120))
        )
        hook = LlmHook("content_llm_test")
        llm.answer_text("ok")
        assert hook.settings == LlmSettings(model="fake-model", max_chars=120)
        assert hook.url == f"{llm.base_url}/v1/chat/completions"
        assert hook.test_connection()[0] is True
        llm.answer_raw(401, b'{"error": "bad key"}')
        ok, message = hook.test_connection()
        assert not ok and "401" in message and "test-llm-key" not in message
