"""Texts built from facts: every sentence keeps the numbers and names it states.

A :class:`Sentence` is rendered from a template and the facts it uses; a :class:`Draft` is the
sentences joined, with a SHA-256 that identifies the version. The same facts always give the same
text, so re-running a job drafts nothing new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spotify_agent.core.numbers import FactValue, format_number

# Spotify shows at most 300 characters of a playlist description.
MAX_DESCRIPTION_CHARS = 300


@dataclass(frozen=True)
class Sentence:
    text: str
    facts: Mapping[str, FactValue] = field(default_factory=dict)

    @classmethod
    def render(cls, template: str, **facts: FactValue) -> Sentence:
        """``template`` formatted with ``facts``; numbers are written the way they are read back."""
        shown = {name: format_number(value) for name, value in facts.items()}
        return cls(template.format(**shown), dict(facts))

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "facts": dict(self.facts)}


@dataclass(frozen=True)
class Draft:
    """A text version: what it says, how it was written, and the facts behind each sentence."""

    subject_type: str
    subject_id: str
    period: str
    sentences: tuple[Sentence, ...]
    generator: str = "template:v1"
    separator: str = " "
    text_override: str | None = None  # an LLM rewrite of the sentences (validated)

    @property
    def text(self) -> str:
        if self.text_override is not None:
            return self.text_override
        return self.separator.join(sentence.text for sentence in self.sentences)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def allowed_numbers(self) -> set[str]:
        """Every number a rewrite of this draft may state."""
        allowed: set[str] = set()
        for sentence in self.sentences:
            allowed |= stated_numbers(sentence.facts)
        return allowed

    def sentences_json(self) -> list[dict[str, Any]]:
        return [sentence.as_dict() for sentence in self.sentences]


# A number is any run of digits not inside another number ("top5" and "No.2" count too).
_NUMBER = re.compile(r"(?<![\d.,])[-+]?\d[\d,]*(?:\.\d+)?")
# Figures written in words, which the digit check cannot trace; a rewrite may not use them.
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred hundreds thousand thousands million millions billion dozen dozens half "
    "double doubled triple tripled quadrupled twice thrice percent".split()
)


def numbers_in(text: str) -> list[str]:
    """Numbers as written in ``text`` (``1,234``, ``12.5``, ``-3``), separators removed."""
    return [match.group().replace(",", "").lstrip("+") for match in _NUMBER.finditer(text)]


def stated_numbers(facts: Mapping[str, FactValue]) -> set[str]:
    """Every number a text may state about ``facts``, in the forms :func:`numbers_in` reads."""
    allowed: set[str] = set()
    for value in facts.values():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            allowed.add(format_number(value).replace(",", ""))
            if isinstance(value, float) and value.is_integer():
                allowed.add(str(int(value)))
            allowed.add(format_number(abs(value)).replace(",", ""))
        else:
            allowed.update(numbers_in(str(value)))
    return allowed


def untraceable_numbers(text: str, allowed: set[str]) -> list[str]:
    """Numbers in ``text`` that no fact states: a text must not invent figures."""
    return [number for number in numbers_in(text) if number not in allowed]


def number_words(text: str) -> list[str]:
    """Figures written as words or fractions (``twelve``, ``a dozen``, ``½``)."""
    words = re.findall(r"[a-z]+", text.lower())
    found = [word for word in words if word in NUMBER_WORDS]
    found += [char for char in text if "\u00bc" <= char <= "\u00be" or "\u2150" <= char <= "\u215e"]
    return found


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The noun that goes with ``count`` (``1 listener``, ``2 listeners``)."""
    return singular if count == 1 else (plural_form or singular + "s")
