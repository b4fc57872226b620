"""The weekly artist digest: what changed for the watched artists in one ISO week.

Facts come from ``artist_snapshots`` (followers and popularity at the first and last snapshot of
the week), ``artist_events`` (new releases) and ``artist_releases`` (their names). The text is
Markdown, one line per sentence; artists are ordered by news, then by follower change. A second
part names the artists whose plays on this service moved most (``listening_trends``, significant
trends only, each artist's strongest of the week).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, select

from spotify_agent.analytics.trend_store import StoredTrend, stored_trends
from spotify_agent.content.text import Draft, Sentence, plural
from spotify_agent.warehouse.schema import artist_events, artist_releases, artist_snapshots

SUBJECT_TYPE = "artist_digest"
# The digest names at most this many artists; the heading counts all of them.
MAX_ARTISTS = 20


def last_complete_week(end: datetime | date) -> tuple[date, date, str]:
    """``(monday, next monday, "YYYY-Www")`` of the last ISO week that ended by ``end``."""
    day = end.date() if isinstance(end, datetime) else end
    this_monday = day - timedelta(days=day.weekday())
    monday = this_monday - timedelta(days=7)
    year, week, _ = monday.isocalendar()
    return monday, this_monday, f"{year}-W{week:02d}"


@dataclass(frozen=True)
class ArtistWeek:
    artist_id: str
    name: str
    followers_start: int | None
    followers_end: int | None
    popularity_start: int | None
    popularity_end: int | None
    new_releases: tuple[str, ...]

    @property
    def follower_change(self) -> int | None:
        if self.followers_start is None or self.followers_end is None:
            return None
        return self.followers_end - self.followers_start


def artist_weeks(connection: Connection, *, start: date, end: date) -> list[ArtistWeek]:
    """Each artist snapshotted in ``[start, end)``, with the week's first and last figures."""
    snapshots: dict[str, list[dict[str, object]]] = defaultdict(list)
    query = (
        select(
            artist_snapshots.c.artist_id,
            artist_snapshots.c.name,
            artist_snapshots.c.followers,
            artist_snapshots.c.popularity,
        )
        .where(artist_snapshots.c.snapshot_date >= start, artist_snapshots.c.snapshot_date < end)
        .order_by(artist_snapshots.c.artist_id, artist_snapshots.c.snapshot_date)
    )
    for row in connection.execute(query).mappings():
        snapshots[row["artist_id"]].append(dict(row))
    releases: dict[str, list[str]] = defaultdict(list)
    release_query = (
        select(artist_events.c.artist_id, artist_releases.c.name)
        .join(
            artist_releases,
            (artist_releases.c.artist_id == artist_events.c.artist_id)
            & (artist_releases.c.album_id == artist_events.c.subject),
        )
        .where(
            artist_events.c.event_type == "new_release",
            artist_events.c.snapshot_date >= start,
            artist_events.c.snapshot_date < end,
        )
        .order_by(artist_events.c.artist_id, artist_releases.c.name)
    )
    for artist_id, name in connection.execute(release_query):
        releases[artist_id].append(name)
    weeks = []
    for artist_id, rows in snapshots.items():
        first, last = rows[0], rows[-1]
        weeks.append(
            ArtistWeek(
                artist_id=artist_id,
                name=str(last["name"]),
                followers_start=_int(first["followers"]),
                followers_end=_int(last["followers"]),
                popularity_start=_int(first["popularity"]),
                popularity_end=_int(last["popularity"]),
                new_releases=tuple(releases.get(artist_id, ())),
            )
        )
    return weeks


def trending_artists(connection: Connection, *, start: date, end: date) -> list[StoredTrend]:
    """The significant artist trends of ``[start, end)``, each artist's strongest, strongest
    first."""
    strongest: dict[str, StoredTrend] = {}
    for trend in stored_trends(
        connection, start=start, end=end, entity_type="artist", significant_only=True
    ):
        strongest.setdefault(trend.entity_id, trend)
    return list(strongest.values())


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def artist_digest(
    weeks: list[ArtistWeek], *, week: str, trending: list[StoredTrend] | None = None
) -> Draft:
    """The digest as Markdown: a heading with the totals, then one line per artist with news,
    then the artists trending on the service."""
    releases = sum(len(artist.new_releases) for artist in weeks)
    sentences = [
        Sentence.render(
            "# Artist digest {week}: {artists} watched "
            + plural(len(weeks), "artist")
            + ", {releases} new "
            + plural(releases, "release"),
            week=week,
            artists=len(weeks),
            releases=releases,
        )
    ]

    def importance(artist: ArtistWeek) -> tuple[int, int, str]:
        return (-len(artist.new_releases), -abs(artist.follower_change or 0), artist.artist_id)

    newsworthy = [
        artist
        for artist in sorted(weeks, key=importance)
        if artist.new_releases
        or artist.follower_change
        or (artist.popularity_start != artist.popularity_end)
    ]
    for artist in newsworthy[:MAX_ARTISTS]:
        for title in artist.new_releases:
            sentences.append(
                Sentence.render("- {artist} released “{title}”.", artist=artist.name, title=title)
            )
        change = artist.follower_change
        if change and artist.followers_start:
            sentences.append(
                Sentence.render(
                    "- {artist} {verb} {change} "
                    + plural(abs(change), "follower")
                    + " ({pct}%), now {followers}.",
                    artist=artist.name,
                    verb="gained" if change > 0 else "lost",
                    change=abs(change),
                    pct=round(100.0 * abs(change) / artist.followers_start, 1),
                    followers=artist.followers_end or 0,
                )
            )
        if (
            artist.popularity_start is not None
            and artist.popularity_end is not None
            and artist.popularity_start != artist.popularity_end
        ):
            sentences.append(
                Sentence.render(
                    "- {artist}'s popularity went from {before} to {after}.",
                    artist=artist.name,
                    before=artist.popularity_start,
                    after=artist.popularity_end,
                )
            )
    if not newsworthy:
        sentences.append(Sentence.render("No watched artist released or moved this week."))
    if trending:
        sentences.append(Sentence.render("## Trending on the service"))
        sentences.extend(_trend_sentence(artist) for artist in trending[:MAX_ARTISTS])
    return Draft(SUBJECT_TYPE, week, week, tuple(sentences), separator="\n")


def _trend_sentence(trend: StoredTrend) -> Sentence:
    template, facts = trend.sentence()
    return Sentence.render("- " + template, **facts)
