"""Fault injection: which request fails, how, and how its body is damaged.

Every eligible request gets a sequence number; the decision for request ``n`` comes from a random
generator seeded with ``(seed, n)`` alone, so the same seed and the same request sequence give the
same faults on every run, whatever happened in between (timing, other tests, a restart).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

FaultKind = Literal["429", "500", "502", "503", "slow", "truncated", "malformed", "missing_fields"]
ALL_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# Kinds that replace the response with an error before the request is handled.
STATUS_KINDS: frozenset[FaultKind] = frozenset({"429", "500", "502", "503"})
# ``slow`` is left out of the default: it costs real seconds per hit.
DEFAULT_KINDS: tuple[FaultKind, ...] = tuple(kind for kind in ALL_KINDS if kind != "slow")
# Keys ``missing_fields`` may remove, most important first.
REQUIRED_KEYS = ("id", "name", "uri", "snapshot_id", "access_token", "items")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class InvalidFaultSpec(ValueError):
    """A fault spec string or field that cannot be understood; the message names it."""


@dataclass(frozen=True)
class FaultSpec:
    """What to inject: ``rate`` of eligible requests fail with one of ``kinds``.

    ``slow_s`` is how long a ``slow`` response is held back, ``retry_after_s`` the Retry-After of an
    injected 429, and ``token`` whether ``POST /api/token`` is eligible (off by default, so a fault
    test exercises the Web API, not the login).
    """

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[FaultKind, ...] = DEFAULT_KINDS
    slow_s: float = 10.0
    retry_after_s: int = 1
    token: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise InvalidFaultSpec(f"rate must be between 0 and 1, got {self.rate}")
        if not self.kinds:
            raise InvalidFaultSpec("kinds must name at least one fault kind")
        unknown = [kind for kind in self.kinds if kind not in ALL_KINDS]
        if unknown:
            raise InvalidFaultSpec(
                f"unknown fault kind(s) {', '.join(unknown)}; known: {'+'.join(ALL_KINDS)}"
            )
        if self.slow_s < 0 or self.retry_after_s < 0:
            raise InvalidFaultSpec("slow_s and retry_after_s must not be negative")

    @property
    def enabled(self) -> bool:
        return self.rate > 0.0

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """Parse ``"rate=0.2,seed=7,kinds=429+500+truncated,slow_s=10,retry_after=2,token=0"``.

        An empty string, ``None`` or ``"none"`` means no faults.
        """
        if text is None or text.strip().lower() in ("", "none", "off"):
            return cls()
        values: dict[str, Any] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key, raw = key.strip().lower(), raw.strip()
            if not sep:
                raise InvalidFaultSpec(f"expected key=value, got {part!r}")
            try:
                if key == "rate":
                    values["rate"] = float(raw)
                elif key == "seed":
                    values["seed"] = int(raw)
                elif key == "kinds":
                    values["kinds"] = tuple(k.strip() for k in raw.split("+") if k.strip())
                elif key in ("slow_s", "slow", "delay"):
                    values["slow_s"] = float(raw)
                elif key in ("retry_after", "retry_after_s"):
                    values["retry_after_s"] = int(raw)
                elif key == "token":
                    values["token"] = _parse_bool(raw)
                else:
                    raise InvalidFaultSpec(
                        f"unknown fault spec key {key!r} "
                        "(known: rate, seed, kinds, slow_s, retry_after, token)"
                    )
            except ValueError as error:
                if isinstance(error, InvalidFaultSpec):
                    raise
                raise InvalidFaultSpec(f"bad value for {key}: {raw!r}") from None
        return cls(**values)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultSpec:
        """Build from a JSON object: either ``{"spec": "<string form>"}`` or the fields."""
        if "spec" in data:
            spec = data["spec"]
            if spec is not None and not isinstance(spec, str):
                raise InvalidFaultSpec("spec must be a string")
            return cls.parse(spec)
        known = {"rate", "seed", "kinds", "slow_s", "retry_after_s", "token"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidFaultSpec(f"unknown field(s) {', '.join(unknown)}")
        values = dict(data)
        if "kinds" in values:
            kinds = values["kinds"]
            if isinstance(kinds, str):
                kinds = kinds.split("+")
            values["kinds"] = tuple(str(kind) for kind in kinds)
        try:
            return cls(**values)
        except TypeError as error:
            raise InvalidFaultSpec(str(error)) from None

    def render(self) -> str:
        """The string form, accepted back by :meth:`parse`."""
        if not self.enabled:
            return "none"
        return (
            f"rate={self.rate},seed={self.seed},kinds={'+'.join(self.kinds)},"
            f"slow_s={self.slow_s},retry_after={self.retry_after_s},token={int(self.token)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "kinds": list(self.kinds),
            "slow_s": self.slow_s,
            "retry_after_s": self.retry_after_s,
            "token": self.token,
            "spec": self.render(),
        }


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


@dataclass(frozen=True)
class Fault:
    """One decided fault; ``rng`` drives the body damage so it too is reproducible."""

    kind: FaultKind
    index: int
    rng: random.Random = field(compare=False, repr=False)

    @property
    def rejects_request(self) -> bool:
        """True for kinds answered before the request is handled (nothing is applied)."""
        return self.kind in STATUS_KINDS


class FaultInjector:
    """Decides, request by request, whether and how to fail."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self.spec = spec or FaultSpec()
        self._next_index = 0

    def reconfigure(self, spec: FaultSpec) -> None:
        """Install a new spec and restart the sequence, so a test can replay it."""
        self.spec = spec
        self._next_index = 0

    def draw(self) -> Fault | None:
        if not self.spec.enabled:
            return None
        index = self._next_index
        self._next_index += 1
        rng = random.Random(f"{self.spec.seed}:{index}")  # noqa: S311 - replayable, not secret
        if rng.random() >= self.spec.rate:
            return None
        kind = self.spec.kinds[rng.randrange(len(self.spec.kinds))]
        return Fault(kind=kind, index=index, rng=rng)


def truncate_body(body: bytes, rng: random.Random) -> bytes:
    """A proper prefix of the body: never valid JSON, since an object needs its closing brace."""
    if len(body) <= 1:
        return b"{"
    return body[: rng.randint(1, len(body) - 1)]


def malform_body(body: bytes) -> bytes:
    """The body with its first key/value separator broken (``"key"=value``): invalid JSON."""
    if b'":' in body:
        return body.replace(b'":', b'"=', 1)
    return b"{" + body + b"<"


def drop_required_field(body: bytes, rng: random.Random) -> bytes:
    """Remove one identifying field (``id``, ``name``, ...) from one object in the document.

    Returns the body unchanged when it holds no such field (for example an empty body).
    """
    try:
        document = json.loads(body)
    except ValueError:
        return body
    candidates: list[dict[str, Any]] = []
    _collect_objects(document, candidates)
    if not candidates:
        return body
    target = candidates[rng.randrange(len(candidates))]
    key = next(key for key in REQUIRED_KEYS if key in target)
    del target[key]
    return json.dumps(document, separators=(",", ":")).encode()


def _collect_objects(node: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if any(key in node for key in REQUIRED_KEYS):
            found.append(cast(dict[str, Any], node))
        for value in node.values():
            _collect_objects(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_objects(value, found)
