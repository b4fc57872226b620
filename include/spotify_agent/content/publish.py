"""Putting a description on a Spotify playlist: read first, write only a difference, read back."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class DescriptionNotPublished(RuntimeError):
    """The playlist still shows another description after every attempt."""


def live_description(client: Any, playlist_id: str) -> str:
    """The description Spotify shows (the API HTML-escapes it: ``&#x27;`` for ``'``)."""
    answer = client.playlist(playlist_id, fields="description")
    return html.unescape((answer or {}).get("description") or "")


def publish_description(
    client: Any,
    playlist_id: str,
    text: str,
    *,
    is_uncertain: Callable[[BaseException], bool] = lambda error: False,
    rounds: int = 3,
) -> int:
    """Make the playlist show ``text``; returns the write calls made (0 when it already did).

    A write whose outcome is unknown is settled by reading the description again, never by
    writing blindly a second time.
    """
    writes = 0
    for _ in range(rounds):
        if live_description(client, playlist_id) == text:
            return writes
        writes += 1
        try:
            client.playlist_change_details(playlist_id, description=text)
        except Exception as error:
            if not is_uncertain(error):
                raise
            log.warning(
                "playlist %s: description write unsure (%s); reading again", playlist_id, error
            )
    if live_description(client, playlist_id) == text:
        return writes
    raise DescriptionNotPublished(
        f"playlist {playlist_id} does not show the approved description after {rounds} writes"
    )
