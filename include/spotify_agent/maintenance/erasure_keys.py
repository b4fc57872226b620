"""The erasure keys: which key made each keyed hash, and every key the erasure log still needs.

An erased listener is known only by ``user_hmac(user_id, key)``. Each log entry, request and
receipt records the id of the key that made its hash: :func:`key_id`, an HMAC of a fixed label
under the key, so the id can be published (it is in receipts and backup manifests) without
telling anything about the key. Rotating the key makes a new one current; the retired ones stay
configured, because the entries they made can only be matched with them. A job that meets an
entry whose key is not configured stops and names it (:class:`MissingErasureKey`): matching with
the wrong key finds nobody, so falling back to another key would silently let people back in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spotify_agent.core.errors import PermanentFailure
from spotify_agent.maintenance.personal_data import check_key, user_hmac

# Changing the label changes every key id: never do it.
_KEY_ID_LABEL = b"spotify-agent/gdpr-erasure-key-id/v1"
KEY_ID_CHARS = 16


def key_id(key: bytes) -> str:
    """The public name of ``key``: 16 hex characters, the same wherever the key is configured."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:KEY_ID_CHARS]


class MissingErasureKey(PermanentFailure):
    """The erasure log refers to a key the deployment does not hold; retrying cannot fix it."""

    def __init__(self, missing: Sequence[str], *, source: str, known: Sequence[str]) -> None:
        self.missing = sorted(set(missing))
        held = ", ".join(known) or "none"
        super().__init__(
            f"{source}: the erasure log refers to key {', '.join(self.missing)}, which this "
            f"deployment does not hold (held: {held}). Without it erased listeners cannot be "
            f"recognised. Put the key back in the {source} connection (its password if current, "
            "else its extra's retired_keys), see docs/OPERATIONS.md 'Rotate the erasure key'."
        )


class UnstampedLogEntries(PermanentFailure):
    """Entries written before key ids existed, not yet given theirs by ``migrate-warehouse``."""

    def __init__(self, count: int, *, source: str) -> None:
        super().__init__(
            f"{count} erasure-log entries or requests predate key ids: run "
            f"`python -m spotify_agent_airflow.cli migrate-warehouse` (make init or make migrate) "
            f"with the {source} connection holding the key they were made with"
        )


@dataclass(frozen=True)
class Keyring:
    """The current key (None where the deployment has none yet) and the retired ones."""

    current: bytes | None
    retired: tuple[bytes, ...] = ()
    source: str = "gdpr_erasure_key"

    @classmethod
    def from_secrets(
        cls, current: str | None, retired: Iterable[str] = (), *, source: str
    ) -> Keyring:
        """Checked keys from a connection's password and retired list (each >= 16 bytes)."""
        return cls(
            check_key(current, source=source) if current is not None else None,
            tuple(check_key(key, source=f"{source} retired_keys") for key in retired),
            source,
        )

    @property
    def current_id(self) -> str:
        return key_id(self._current())

    def _current(self) -> bytes:
        if self.current is None:
            raise PermanentFailure(
                f"{self.source}: no erasure key is configured (the connection's password); "
                "without it no request can be recorded and no receipt written"
            )
        return self.current

    def _by_id(self) -> dict[str, bytes]:
        keys = list(self.retired) + ([self.current] if self.current is not None else [])
        return {key_id(key): key for key in keys}

    @property
    def ids(self) -> list[str]:
        return sorted(self._by_id())

    def require(self, key_ids: Iterable[str | None]) -> None:
        """Fail unless every key in ``key_ids`` is held (None: an entry not stamped yet)."""
        wanted = list(key_ids)
        unstamped = sum(1 for wanted_id in wanted if wanted_id is None)
        if unstamped:
            raise UnstampedLogEntries(unstamped, source=self.source)
        held = self._by_id()
        missing = sorted({wanted_id for wanted_id in wanted if wanted_id and wanted_id not in held})
        if missing:
            raise MissingErasureKey(missing, source=self.source, known=self.ids)

    def key(self, wanted_id: str) -> bytes:
        self.require([wanted_id])
        return self._by_id()[wanted_id]

    def current_hmac(self, user_id: str) -> tuple[str, str]:
        """``(user_hmac, key_id)`` under the current key: what a new request records."""
        current = self._current()
        return user_hmac(user_id, current), key_id(current)

    def hmacs(self, user_ids: Iterable[str], key_ids: Iterable[str]) -> dict[tuple[str, str], str]:
        """``{(key_id, user_hmac): user_id}`` for every id under every key named (all held)."""
        wanted = sorted(set(key_ids))
        self.require(wanted)
        keys = self._by_id()
        return {
            (wanted_id, user_hmac(user_id, keys[wanted_id])): user_id
            for wanted_id in wanted
            for user_id in set(user_ids)
        }


def as_keyring(key: Keyring | bytes, *, source: str = "gdpr_erasure_key") -> Keyring:
    """A keyring from a keyring, or from one bare key (callers and tests with a single key)."""
    return key if isinstance(key, Keyring) else Keyring(key, (), source)
