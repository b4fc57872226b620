"""How far a long job is, in its log: done of total, percent, rate and time left.

Training, audio analysis, aggregation and backups run for minutes; a task log that says nothing
until the end cannot be told from a hung one. A :class:`Progress` logs one line at the start, at
most one every ``every_s`` seconds while work advances, and one at the end::

    aggregating 2026-11-22: 1,200,000 of 4,800,000 plays (25%), 410,000 plays/s, about 9 s left

Results handed back to Airflow go through :func:`rounded`, so an XCom or a log line never shows
a float with 17 digits.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from spotify_agent.core.numbers import format_number

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_EVERY_S = 30.0
SIGNIFICANT_DIGITS = 4


class Progress:
    """Counts work done towards ``total`` (``None`` when unknown) and logs it now and then."""

    def __init__(
        self,
        what: str,
        total: int | None,
        *,
        unit: str = "items",
        every_s: float = DEFAULT_EVERY_S,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.every_s, self.logger, self.clock = every_s, logger, clock
        self.done = 0
        self.started = self.clock()
        self._last_logged = self.started
        self.logger.info("%s: starting, %s", what, self._of_total())

    def advance(self, amount: int = 1) -> None:
        """``amount`` more done; logs a line when ``every_s`` has passed since the last one."""
        self.done += amount
        now = self.clock()
        if now - self._last_logged >= self.every_s:
            self._last_logged = now
            self.logger.info("%s", self.line(now))

    def finish(self) -> str:
        """Log and return the closing line: what was done and how fast."""
        elapsed = self.clock() - self.started
        closing = (
            f"{self.what}: done, {format_number(self.done)} {self.unit} in "
            f"{duration(elapsed)}{self._rate(elapsed)}"
        )
        self.logger.info("%s", closing)
        return closing

    def line(self, now: float | None = None) -> str:
        elapsed = (self.clock() if now is None else now) - self.started
        text = f"{self.what}: {format_number(self.done)}"
        if self.total:
            percent = math.floor(100 * self.done / self.total)
            text += f" of {format_number(self.total)} {self.unit} ({percent}%)"
        else:
            text += f" {self.unit}"
        text += self._rate(elapsed)
        left = self.seconds_left(elapsed)
        if left is not None:
            text += f", about {duration(left)} left"
        return text

    def seconds_left(self, elapsed: float) -> float | None:
        if not self.total or self.done <= 0 or elapsed <= 0:
            return None
        return max(0.0, (self.total - self.done) * elapsed / self.done)

    def _rate(self, elapsed: float) -> str:
        if elapsed <= 0 or self.done <= 0:
            return ""
        return f", {rate(self.done, elapsed, self.unit)}"

    def _of_total(self) -> str:
        return f"{format_number(self.total)} {self.unit}" if self.total else f"{self.unit} unknown"


def rate(amount: float, seconds: float, unit: str) -> str:
    """``40,000 plays/s``; per minute, or per hour, when under one a second (``4.5 fits/min``),
    so a slow job never reads ``0.0 fits/s``."""
    per_second = amount / seconds
    value, per = per_second, "s"
    if per_second < 1:
        value, per = (per_second * 60, "min") if per_second * 60 >= 1 else (per_second * 3600, "h")
    return f"{format_number(round_significant(value))} {unit}/{per}"


def duration(seconds: float) -> str:
    """``9 s``, ``3 min 20 s``, ``1 h 5 min``: what a person reads at a glance."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float | int:
    """``value`` to ``digits`` significant digits; a whole result comes back as an int."""
    if value == 0 or not math.isfinite(value):
        return value
    magnitude = math.floor(math.log10(abs(value)))
    result = round(value, digits - 1 - magnitude)
    return int(result) if result == int(result) and abs(result) >= 10 ** (digits - 1) else result


def rounded(result: T, digits: int = SIGNIFICANT_DIGITS) -> T:
    """``result`` with every float (in dicts, lists and tuples too) to ``digits`` significant
    digits; ints, strings and the rest unchanged."""
    return cast(T, _rounded(result, digits))


def _rounded(result: Any, digits: int) -> Any:
    if isinstance(result, bool):
        return result
    if isinstance(result, float):
        return round_significant(result, digits)
    if isinstance(result, dict):
        return {key: _rounded(value, digits) for key, value in result.items()}
    if isinstance(result, list | tuple):
        return type(result)(_rounded(value, digits) for value in result)
    return result
