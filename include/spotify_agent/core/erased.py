"""The question every job that stores or serves listeners' data asks before it writes: which
of these listeners are erased, or being erased?

``maintenance.erasure.erased_among`` answers it under the deployment's keys. ``maintenance``
imports the domains whose data it erases, so those domains take the answer as a port of this
type, bound by the operator (``functools.partial(erased_among, key=keyring)``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy.engine import Connection


class ErasedAmong(Protocol):
    """Which of ``user_ids`` are erased or being erased, read in the caller's transaction."""

    def __call__(self, connection: Connection, user_ids: Collection[str], /) -> set[str]: ...
