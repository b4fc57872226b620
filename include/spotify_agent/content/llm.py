"""Optional LLM rewrite of a template draft, over an OpenAI-compatible chat-completions endpoint.

The model gets the draft and the facts behind each sentence and must answer with one rewritten
text. The answer is used only if it passes :func:`check_rewrite`: not empty, within the length
limit, no links or markup, and no number that the facts do not state. Anything else (an HTTP
error, a body of the wrong shape, a text that fails the checks) leaves the template text in place
and the answer goes to the quarantine with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spotify_agent.content.text import Draft, number_words, untraceable_numbers
from spotify_agent.core.quarantine import QuarantinedItem

SYSTEM_PROMPT = (
    "You rewrite short texts for a music service. Keep every fact, add none: use only the "
    "numbers and names given, no links, no markup. Answer with the rewritten text only."
)
# Links (with or without a scheme) and markup: a description is plain text.
_LINK_OR_MARKUP = re.compile(
    r"https?://|www\.|<[a-zA-Z/!]|\b[a-z0-9-]+\.(?:com|net|org|io|co|fm|app|ly)\b", re.I
)


@dataclass(frozen=True)
class LlmSettings:
    model: str
    max_chars: int
    temperature: float = 0.0


def build_request(draft: Draft, settings: LlmSettings) -> dict[str, Any]:
    """The chat-completions body: the draft, its facts, and the limits."""
    facts = [sentence.as_dict() for sentence in draft.sentences]
    user = (
        f"Rewrite this {draft.subject_type.replace('_', ' ')} in at most {settings.max_chars} "
        f"characters.\nText: {draft.text}\nFacts per sentence: {json.dumps(facts, sort_keys=True)}"
    )
    return {
        "model": settings.model,
        "temperature": settings.temperature,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ],
    }


class RejectedAnswer(ValueError):
    """The endpoint's answer cannot be used; the message says why."""


def read_answer(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise RejectedAnswer("answer has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise RejectedAnswer("choices[0].message.content is not text")
    return " ".join(content.split())


def check_rewrite(text: str, draft: Draft, *, max_chars: int) -> list[str]:
    """Why ``text`` may not replace ``draft`` (empty when it may)."""
    problems = []
    if not text:
        problems.append("empty text")
    if len(text) > max_chars:
        problems.append(f"{len(text)} characters, more than {max_chars}")
    if _LINK_OR_MARKUP.search(text):
        problems.append("contains a link or markup")
    invented = untraceable_numbers(text, draft.allowed_numbers())
    if invented:
        problems.append("states numbers no fact gives: " + ", ".join(invented))
    words = [word for word in number_words(text) if word not in number_words(draft.text)]
    if words:
        problems.append("writes figures as words: " + ", ".join(words))
    if "%" in text and "%" not in draft.text:
        problems.append("states a percentage no fact gives")
    return problems


def rewrite(
    draft: Draft,
    post: Callable[[dict[str, Any]], Any],
    settings: LlmSettings,
    *,
    source: str,
) -> tuple[Draft, QuarantinedItem | None]:
    """``draft`` rewritten by the model, or unchanged with the quarantined answer and reason.

    ``post`` sends the request body and returns the decoded JSON answer (it raises on HTTP
    errors); ``source`` names the endpoint in the quarantine.
    """
    request = build_request(draft, settings)
    try:
        answer = post(request)
    except Exception as error:  # noqa: BLE001 - the LLM is optional: any failure keeps the template
        # The error's text can carry the endpoint's URL (and a key in it): keep only its kind.
        status = getattr(getattr(error, "response", None), "status_code", None)
        reason = f"request failed: {type(error).__name__}" + (f" (HTTP {status})" if status else "")
        return draft, QuarantinedItem(source, {"request": request}, reason)
    try:
        text = read_answer(answer)
    except RejectedAnswer as error:
        return draft, QuarantinedItem(source, answer, str(error))
    problems = check_rewrite(text, draft, max_chars=settings.max_chars)
    if problems:
        return draft, QuarantinedItem(
            source, {"text": text, "draft": draft.text}, "; ".join(problems)
        )
    return dataclasses.replace(draft, text_override=text, generator=f"llm:{settings.model}"), None
