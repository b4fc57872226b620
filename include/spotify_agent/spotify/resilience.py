"""Retries for the failures spotipy does not retry: corrupt bodies, timeouts, dropped connections.

spotipy (through urllib3) already retries 429 and 5xx answers. A truncated or malformed 2xx body,
a read timeout or a connection reset reach the caller instead; a call is idempotent to repeat
when it only reads, so :class:`Resilient` repeats reads a few times and keeps every corrupt body
for the quarantine. Writes are never repeated here: playlist writes are guarded by snapshot ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.spotify.errors import MalformedResponse

log = logging.getLogger(__name__)

# Only reads are repeated; the names are spotipy's.
READ_METHODS = frozenset(
    {
        "artist",
        "artists",
        "artist_albums",
        "album",
        "album_tracks",
        "track",
        "tracks",
        "search",
        "playlist",
        "playlist_items",
        "current_user_recently_played",
        "current_user",
        "next",
    }
)


def _transient_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (
        MalformedResponse,
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
    )


class Resilient:
    """Wraps a spotipy-like client; read calls are tried up to ``attempts`` times."""

    def __init__(
        self,
        client: Any,
        *,
        attempts: int = 3,
        backoff_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self.quarantined: list[QuarantinedItem] = []
        self.repeated_calls = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if name not in READ_METHODS or not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            transient = _transient_errors()
            for attempt in range(1, self._attempts + 1):
                try:
                    return target(*args, **kwargs)
                except transient as error:
                    if isinstance(error, MalformedResponse):
                        self.quarantined.append(
                            QuarantinedItem(
                                f"spotify:{name}", error.body, f"malformed response: {error.reason}"
                            )
                        )
                    if attempt == self._attempts:
                        raise
                    self.repeated_calls += 1
                    log.warning(
                        "Spotify %s failed (%s); attempt %d of %d",
                        name,
                        error,
                        attempt,
                        self._attempts,
                    )
                    self._sleep(self._backoff_s * attempt)
            raise AssertionError("unreachable")  # pragma: no cover

        return call
