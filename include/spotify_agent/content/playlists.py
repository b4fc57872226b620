"""Playlist descriptions: the facts of a managed playlist, and the template that states them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, distinct, func, select

from spotify_agent.content.text import MAX_DESCRIPTION_CHARS, Draft, Sentence, plural
from spotify_agent.spotify.models import Tier, Track, parse_objects
from spotify_agent.spotify.playlist_store import ManagedPlaylist, target_track_ids
from spotify_agent.warehouse.schema import listening_events
from spotify_agent.warehouse.times import day_start_utc

SUBJECT_TYPE = "playlist_description"


@dataclass(frozen=True)
class TrackName:
    track_id: str
    name: str
    artists: tuple[str, ...]


@dataclass(frozen=True)
class PlaylistFacts:
    playlist_id: str
    rule: str
    window_days: int
    track_ids: tuple[str, ...]
    plays: int
    listeners: int
    top_plays: int


def playlist_facts(
    connection: Connection, playlist: ManagedPlaylist, *, end: datetime
) -> PlaylistFacts:
    """What the playlist holds on the day ending at ``end`` and how much it was played, over
    whole UTC days (a run at 09:00 and one at 17:00 state the same facts: the same text)."""
    end = day_start_utc(end)
    track_ids = tuple(target_track_ids(connection, playlist, end=end))
    start = end - timedelta(days=playlist.window_days)
    window = (
        listening_events.c.played_at >= start,
        listening_events.c.played_at < end,
        listening_events.c.track_id.in_(track_ids),
    )
    plays, listeners = (0, 0)
    top_plays = 0
    if track_ids:
        plays, listeners = connection.execute(
            select(func.count(), func.count(distinct(listening_events.c.user_id))).where(*window)
        ).one()
        top_plays = connection.execute(
            select(func.count()).where(*window[:2], listening_events.c.track_id == track_ids[0])
        ).scalar_one()
    return PlaylistFacts(
        playlist_id=playlist.playlist_id,
        rule=playlist.rule,
        window_days=playlist.window_days,
        track_ids=track_ids,
        plays=int(plays),
        listeners=int(listeners),
        top_plays=int(top_plays),
    )


def describe_playlist(
    facts: PlaylistFacts, names: Mapping[str, TrackName], *, period: str
) -> Draft | None:
    """The description a person reads on Spotify, or ``None`` for an empty playlist."""
    if not facts.track_ids:
        return None
    tracks = len(facts.track_ids)
    top = names.get(facts.track_ids[0])
    sentences: list[Sentence] = []
    if facts.rule == "most_played":
        sentences.append(
            Sentence.render(
                "The {tracks} most played "
                + plural(tracks, "track")
                + " of the last {window_days} "
                + plural(facts.window_days, "day")
                + ".",
                tracks=tracks,
                window_days=facts.window_days,
            )
        )
        if facts.plays:
            sentences.append(
                Sentence.render(
                    "{plays} "
                    + plural(facts.plays, "play")
                    + " by {listeners} "
                    + plural(facts.listeners, "listener")
                    + ".",
                    plays=facts.plays,
                    listeners=facts.listeners,
                )
            )
        if top is not None and facts.top_plays:
            sentences.append(
                Sentence.render(
                    "No. {rank}: {track} by {artist}, played {top_plays} "
                    + plural(facts.top_plays, "time")
                    + ".",
                    rank=1,
                    track=top.name,
                    artist=top.artists[0] if top.artists else "an unknown artist",
                    top_plays=facts.top_plays,
                )
            )
    else:
        sentences.append(
            Sentence.render("{tracks} hand-picked " + plural(tracks, "track") + ".", tracks=tracks)
        )
        if top is not None:
            sentences.append(
                Sentence.render(
                    "It opens with {track} by {artist}.",
                    track=top.name,
                    artist=top.artists[0] if top.artists else "an unknown artist",
                )
            )
    # Spotify cuts descriptions at 300 characters: drop whole sentences from the end instead.
    while len(" ".join(s.text for s in sentences)) > MAX_DESCRIPTION_CHARS and len(sentences) > 1:
        sentences.pop()
    return Draft(SUBJECT_TYPE, facts.playlist_id, period, tuple(sentences))


def track_names(client: Any, track_ids: Sequence[str], *, tier: Tier) -> dict[str, TrackName]:
    """Names of tracks by id; ids Spotify does not know are left out."""
    from spotify_agent.spotify.api import track_payloads

    answers = track_payloads(client, track_ids, tier=tier).values()
    parsed = parse_objects(Track, [answer for answer in answers if answer is not None], source="")
    return {
        track.id: TrackName(track.id, track.name, tuple(artist.name for artist in track.artists))
        for track in parsed.valid
    }
