"""Seeded catalogue generator: artists, albums, tracks, users, playlists and listening histories.

Popularity follows a Zipf law over artists (a few stars, a long tail) and again over each artist's
tracks, followers are heavy-tailed, and plays are drawn in proportion to that popularity with a
per-user taste for a few genres, so histories look like real listening: the top tenth of artists
gets most of the plays. One ``random.Random(seed)`` drives everything in a fixed order, so a seed
always gives the same catalogue; the listening history ends at the start of the current UTC day
unless ``CatalogSpec.history_end_ms`` says otherwise, so a seed gives the same plays all day.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spotify_emulator.catalog import (
    BASE62,
    Album,
    AlbumType,
    Artist,
    Catalog,
    Context,
    Image,
    Play,
    PlaylistSeed,
    ReleasePrecision,
    Track,
    User,
)
from spotify_emulator.config import CatalogSpec

# ISO 3166-1 alpha-2 codes of markets Spotify serves (a representative subset).
MARKETS: tuple[str, ...] = (
    "AD", "AE", "AR", "AT", "AU", "BE", "BG", "BO", "BR", "CA", "CH", "CL", "CO", "CR", "CY",
    "CZ", "DE", "DK", "DO", "EC", "EE", "EG", "ES", "FI", "FR", "GB", "GR", "GT", "HK", "HN",
    "HU", "ID", "IE", "IL", "IN", "IS", "IT", "JP", "KR", "LI", "LT", "LU", "LV", "MA", "MC",
    "MT", "MX", "MY", "NG", "NI", "NL", "NO", "NZ", "PA", "PE", "PH", "PL", "PT", "PY", "RO",
    "SA", "SE", "SG", "SK", "SV", "TH", "TR", "TW", "US", "UY", "VN", "ZA",
)  # fmt: skip
GENRES: tuple[str, ...] = (
    "pop", "dance pop", "indie pop", "synthpop", "rock", "indie rock", "alternative rock",
    "classic rock", "hard rock", "punk", "post-punk", "metal", "hip hop", "rap", "trap", "r&b",
    "soul", "funk", "disco", "house", "techno", "drum and bass", "ambient", "electronica",
    "jazz", "bebop", "blues", "folk", "indie folk", "country", "americana", "reggae",
    "reggaeton", "latin pop", "k-pop", "j-pop", "afrobeats", "classical", "soundtrack", "lo-fi",
)  # fmt: skip
_ADJECTIVES = (
    "Velvet", "Neon", "Silent", "Golden", "Broken", "Electric", "Hollow", "Crimson", "Paper",
    "Wild", "Lunar", "Static", "Midnight", "Glass", "Northern", "Faded", "Burning", "Quiet",
    "Restless", "Silver", "Lonely", "Violet", "Distant", "Frozen", "Secret", "Sacred", "Tidal",
)  # fmt: skip
_NOUNS = (
    "Harbor", "Echo", "Garden", "River", "Machine", "Horizon", "Parade", "Signal", "Mirror",
    "Canyon", "Satellite", "Lantern", "Orchard", "Avenue", "Thunder", "Season", "Ocean",
    "Compass", "Fever", "Circus", "Highway", "Letters", "Shadows", "Wolves", "Diamonds",
)  # fmt: skip
_FIRST = (
    "Mara", "Jonas", "Aiko", "Lucas", "Nina", "Omar", "Freya", "Diego", "Lena", "Kwame", "Sofia",
    "Elias", "Yara", "Mateo", "Ines", "Noah", "Priya", "Felix", "Zoe", "Ravi", "Clara", "Tomás",
)  # fmt: skip
_LAST = (
    "Lindqvist", "Moreau", "Tanaka", "Okafor", "Silva", "Novak", "Haddad", "Berg", "Costa",
    "Kowalski", "Larsen", "Nakamura", "Reyes", "Fischer", "Mensah", "Rossi", "Varga", "Quinn",
)  # fmt: skip
_TRACK_WORDS = (
    "Drive", "Dreams", "Fire", "Rain", "Heart", "Lights", "Home", "Runaway", "Gravity", "Waves",
    "Stay", "Gold", "Summer", "Tonight", "Alone", "Forever", "Ghosts", "Stars", "Motion", "Bloom",
)  # fmt: skip
_PLAYLIST_NAMES = (
    "Late Night Mix", "Morning Run", "Focus Flow", "Sunday Slow", "Road Trip", "Throwbacks",
    "Deep Cuts", "Party Starters", "Rainy Day", "Workout Energy", "Chill Evenings",
)  # fmt: skip
DAY_MS = 86_400_000


def generate_catalog(spec: CatalogSpec | None = None) -> Catalog:
    """Build a catalogue from ``spec``; same spec (and history end) → same catalogue."""
    spec = spec or CatalogSpec()
    rng = random.Random(spec.seed)  # noqa: S311 - a reproducible simulation, not a secret
    ids = _IdFactory(rng)
    artists, artist_weight = _artists(spec, rng, ids)
    albums, tracks = _albums_and_tracks(spec, rng, ids, artists, artist_weight)
    return _with_listeners(spec, rng, ids, artists, albums, tracks, MARKETS)


def add_users(catalog: Catalog, spec: CatalogSpec) -> Catalog:
    """Give a catalogue without users (e.g. loaded from fixtures) seeded users and histories."""
    rng = random.Random(spec.seed)  # noqa: S311 - idem
    ids = _IdFactory(rng)
    ids.used.update(catalog.artists, catalog.albums, catalog.tracks)
    return _with_listeners(
        spec, rng, ids, catalog.artists, catalog.albums, catalog.tracks, catalog.markets or MARKETS
    )


def _with_listeners(
    spec: CatalogSpec,
    rng: random.Random,
    ids: _IdFactory,
    artists: dict[str, Artist],
    albums: dict[str, Album],
    tracks: dict[str, Track],
    markets: tuple[str, ...],
) -> Catalog:
    users = _users(spec, rng)
    tastes = {user_id: _taste(rng, artists, tracks) for user_id in users}
    end_ms = spec.history_end_ms if spec.history_end_ms is not None else start_of_utc_day_ms()
    playlists = _playlists(spec, rng, ids, users, tastes, tracks, end_ms)
    plays = {
        user_id: _history(spec, rng, user_id, tastes[user_id], albums, tracks, playlists, end_ms)
        for user_id in users
    }
    return Catalog(
        artists=artists,
        albums=albums,
        tracks=tracks,
        users=users,
        plays=plays,
        playlists=playlists,
        markets=markets,
    )


def start_of_utc_day_ms(at_s: float | None = None) -> int:
    """00:00 UTC of the day ``at_s`` (unix seconds; default now) falls in, in unix ms: where a
    history ends by default. Every emulator started on one day serves the same plays at the
    same instants (they come from the seed), so reading them again that day adds nothing."""
    seconds = int(time.time() if at_s is None else at_s)
    return (seconds - seconds % 86_400) * 1000


class _IdFactory:
    """Unique 22-character base62 ids, the format of real Spotify ids."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def __call__(self) -> str:
        while True:
            candidate = "".join(self.rng.choice(BASE62) for _ in range(22))
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate


def image_set(kind: str, object_id: str, sizes: Sequence[int]) -> tuple[Image, ...]:
    """Deterministic i.scdn.co-style image URLs (40 hex digits), widest first."""
    prefix = {"artist": "ab6761610000", "album": "ab67616d0000", "user": "ab6775700000"}[kind]
    images = []
    for size in sizes:
        digest = hashlib.sha1(f"{object_id}:{size}".encode(), usedforsecurity=False).hexdigest()
        images.append(Image(f"https://i.scdn.co/image/{prefix}{digest[:28]}", size, size))
    return tuple(images)


def _artists(
    spec: CatalogSpec, rng: random.Random, ids: _IdFactory
) -> tuple[dict[str, Artist], dict[str, float]]:
    n = spec.n_artists
    ranks = list(range(1, n + 1))
    rng.shuffle(ranks)  # which artist gets which popularity rank
    genre_weights = [1.0 / (index + 1) ** 0.6 for index in range(len(GENRES))]
    names: set[str] = set()
    artists: dict[str, Artist] = {}
    weights: dict[str, float] = {}
    for rank in ranks:
        artist_id = ids()
        name = _unique(names, lambda: _artist_name(rng))
        genres = _sample_distinct(rng, GENRES, genre_weights, rng.randint(1, 3))
        # Popularity falls with log rank: the head near 90, the tail near 10.
        scale = 1.0 - math.log(rank) / math.log(n + 1)
        popularity = _clamp(round(8 + 84 * scale + rng.gauss(0, 3)), 0, 100)
        # Followers grow exponentially with popularity, with log-normal noise: a heavy tail.
        followers = int(math.exp(math.log(40) + scale * math.log(4e7 / 40) + rng.gauss(0, 0.6)))
        artists[artist_id] = Artist(
            id=artist_id,
            name=name,
            genres=genres,
            popularity=popularity,
            followers=followers,
            images=image_set("artist", artist_id, (640, 320, 160)),
        )
        weights[artist_id] = 1.0 / rank**spec.zipf_exponent
    return artists, weights


def _albums_and_tracks(
    spec: CatalogSpec,
    rng: random.Random,
    ids: _IdFactory,
    artists: dict[str, Artist],
    artist_weight: dict[str, float],
) -> tuple[dict[str, Album], dict[str, Track]]:
    albums: dict[str, Album] = {}
    tracks: dict[str, Track] = {}
    artist_ids = list(artists)
    feature_weights = [artist_weight[artist_id] for artist_id in artist_ids]
    isrc_counter = itertools.count(10001)
    for artist_id in artist_ids:
        artist = artists[artist_id]
        n_albums = max(1, round(spec.albums_per_artist * rng.uniform(0.5, 1.5)))
        album_plan = [_album_type(rng) for _ in range(n_albums)]
        track_counts = [_track_count(rng, kind, spec.tracks_per_album) for kind in album_plan]
        # Zipf over the artist's tracks: a couple of hits, many album tracks.
        n_tracks = sum(track_counts)
        hit_ranks = list(range(1, n_tracks + 1))
        rng.shuffle(hit_ranks)
        harmonic = sum(1.0 / rank for rank in hit_ranks)
        rank_iter = iter(hit_ranks)
        label = f"{rng.choice(_NOUNS)} {rng.choice(('Records', 'Music', 'Recordings', 'Sound'))}"
        debut = rng.randint(1965, 2024)
        for kind, count in zip(album_plan, track_counts, strict=True):
            album_id = ids()
            year = min(2026, debut + rng.randint(0, 12))
            release_date, precision = _release_date(rng, year)
            markets = _markets(rng)
            album_track_ids: list[str] = []
            track_popularities: list[int] = []
            for number in range(1, count + 1):
                rank = next(rank_iter)
                track_id = ids()
                weight = artist_weight[artist_id] * (1.0 / rank) / harmonic
                hit = 1.0 - math.log(rank) / math.log(n_tracks + 1)
                popularity = _clamp(
                    round(artist.popularity - 25 + 30 * hit + rng.gauss(0, 4)), 0, 100
                )
                performers = [artist_id]
                if rng.random() < 0.08 and len(artist_ids) > 1:
                    guest = rng.choices(artist_ids, weights=feature_weights)[0]
                    if guest != artist_id:
                        performers.append(guest)
                tracks[track_id] = Track(
                    id=track_id,
                    name=_track_name(rng),
                    album_id=album_id,
                    artist_ids=tuple(performers),
                    disc_number=1 if number <= 16 else 2,
                    track_number=number if number <= 16 else number - 16,
                    duration_ms=_clamp(round(rng.gauss(212_000, 48_000)), 65_000, 600_000),
                    explicit=rng.random() < 0.15,
                    popularity=popularity,
                    isrc=f"{rng.choice(MARKETS)}{rng.choice(('UM', 'SM', 'WB', 'A2'))}"
                    f"{str(year)[2:]}{next(isrc_counter):05d}",
                    weight=weight,
                )
                album_track_ids.append(track_id)
                track_popularities.append(popularity)
            album_popularity = _clamp(max(track_popularities) - rng.randint(0, 6), 0, 100)
            albums[album_id] = Album(
                id=album_id,
                name=_track_name(rng) if kind == "single" else _album_name(rng),
                album_type=kind,
                artist_ids=(artist_id,),
                release_date=release_date,
                release_date_precision=precision,
                popularity=album_popularity,
                label=label,
                markets=markets,
                upc=f"{rng.randint(10**11, 10**12 - 1)}",
                track_ids=tuple(album_track_ids),
                images=image_set("album", album_id, (640, 300, 64)),
                copyrights=((f"{year} {label}", "C"), (f"℗ {year} {label}", "P")),
            )
    return albums, tracks


def _users(spec: CatalogSpec, rng: random.Random) -> dict[str, User]:
    users: dict[str, User] = {}
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for _ in range(spec.n_users):
        # New Spotify accounts get 28-character lowercase ids.
        user_id = "".join(rng.choice(alphabet) for _ in range(28))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        users[user_id] = User(
            id=user_id,
            display_name=f"{first} {last}",
            country=rng.choice(MARKETS),
            email=f"{first.lower()}.{last.lower()}@example.com",
            # Development mode needs a Premium owner; listeners may be on any plan.
            product="premium" if rng.random() < 0.7 else "free",
            followers=int(math.exp(rng.gauss(2.5, 1.2))),
            images=image_set("user", user_id, (300, 64)) if rng.random() < 0.6 else (),
        )
    return users


@dataclass
class _Taste:
    """A user's sampling weights over tracks: global popularity times a genre preference."""

    track_ids: list[str]
    cumulative: list[float]
    artist_ids: list[str]
    artist_cumulative: list[float]

    def track(self, rng: random.Random) -> str:
        return rng.choices(self.track_ids, cum_weights=self.cumulative)[0]

    def artist(self, rng: random.Random) -> str:
        return rng.choices(self.artist_ids, cum_weights=self.artist_cumulative)[0]


def _taste(rng: random.Random, artists: dict[str, Artist], tracks: dict[str, Track]) -> _Taste:
    all_genres = sorted({genre for artist in artists.values() for genre in artist.genres})
    liked = set(rng.sample(all_genres, k=min(3, len(all_genres))))

    def boost(artist_id: str) -> float:
        return 3.0 if liked.intersection(artists[artist_id].genres) else 1.0

    track_ids = list(tracks)
    cumulative = list(
        itertools.accumulate(tracks[t].weight * boost(tracks[t].artist_ids[0]) for t in track_ids)
    )
    artist_totals: dict[str, float] = {artist_id: 0.0 for artist_id in artists}
    for track in tracks.values():
        artist_totals[track.artist_ids[0]] += track.weight
    artist_ids = [artist_id for artist_id, total in artist_totals.items() if total > 0]
    artist_cumulative = list(itertools.accumulate(artist_totals[a] * boost(a) for a in artist_ids))
    return _Taste(track_ids, cumulative, artist_ids, artist_cumulative)


def _playlists(
    spec: CatalogSpec,
    rng: random.Random,
    ids: _IdFactory,
    users: dict[str, User],
    tastes: dict[str, _Taste],
    tracks: dict[str, Track],
    end_ms: int,
) -> dict[str, PlaylistSeed]:
    playlists: dict[str, PlaylistSeed] = {}
    for user in users.values():
        taste = tastes[user.id]
        for _ in range(spec.playlists_per_user):
            size = min(len(tracks), rng.randint(12, 40))
            chosen: list[str] = []
            seen: set[str] = set()
            for _attempt in range(size * 20):
                track_id = taste.track(rng)
                if track_id not in seen:
                    seen.add(track_id)
                    chosen.append(track_id)
                if len(chosen) == size:
                    break
            playlist_id = ids()
            playlists[playlist_id] = PlaylistSeed(
                id=playlist_id,
                name=rng.choice(_PLAYLIST_NAMES),
                owner_id=user.id,
                description=rng.choice((None, "", "Made for the commute", "Songs on repeat")),
                public=rng.random() < 0.7,
                collaborative=False,
                track_ids=tuple(chosen),
                followers=int(math.exp(rng.gauss(1.0, 1.0))),
                # Whole seconds: added_at has second precision on the wire.
                created_at_ms=(end_ms - int(rng.uniform(30, 400) * DAY_MS)) // 1000 * 1000,
            )
    return playlists


def _history(
    spec: CatalogSpec,
    rng: random.Random,
    user_id: str,
    taste: _Taste,
    albums: dict[str, Album],
    tracks: dict[str, Track],
    playlists: dict[str, PlaylistSeed],
    end_ms: int,
) -> tuple[Play, ...]:
    """Listening sessions laid end to end, ending just before ``end_ms``.

    Each session has one context: the user's saved tracks ("collection", sampled by popularity
    and taste), an artist (that artist's tracks by popularity), an album (in order) or one of the
    user's playlists (in order). Timestamps are strictly increasing, so the millisecond cursors
    of recently-played never tie.
    """
    if spec.events_per_user == 0:
        return ()
    own_playlists = [p for p in playlists.values() if p.owner_id == user_id and p.track_ids]
    artist_tracks: dict[str, list[str]] = {}
    for track in tracks.values():
        artist_tracks.setdefault(track.artist_ids[0], []).append(track.id)
    events: list[tuple[int, str, Context]] = []
    clock = 0
    n_sessions = max(1, spec.events_per_user // 12)
    listening_ms = spec.events_per_user * 215_000
    idle_ms = max(n_sessions * 60_000, int(spec.history_days * DAY_MS) - listening_ms)
    while len(events) < spec.events_per_user:
        clock += int(rng.expovariate(n_sessions / idle_ms))
        length = max(1, round(rng.expovariate(1 / 12)))
        kind = rng.random()
        sequence: list[str]
        if kind < 0.45:
            context = Context("collection", user_id)
            sequence = [taste.track(rng) for _ in range(length)]
        elif kind < 0.7:
            artist_id = taste.artist(rng)
            context = Context("artist", artist_id)
            pool = artist_tracks[artist_id]
            sequence = rng.choices(pool, weights=[tracks[t].weight for t in pool], k=length)
        elif kind < 0.9 or not own_playlists:
            album = albums[tracks[taste.track(rng)].album_id]
            context = Context("album", album.id)
            sequence = list(album.track_ids[:length])
        else:
            playlist = rng.choice(own_playlists)
            context = Context("playlist", playlist.id)
            start = rng.randrange(len(playlist.track_ids))
            sequence = list(playlist.track_ids[start : start + length])
        for track_id in sequence:
            if len(events) == spec.events_per_user:
                break
            # Some plays are skipped early, most run to the end of the track.
            listened = tracks[track_id].duration_ms
            if rng.random() < 0.2:
                listened = rng.randint(5_000, max(5_001, listened // 2))
            clock += listened + rng.randint(0, 3_000)
            events.append((clock, track_id, context))
    offset = end_ms - rng.randint(60_000, 1_800_000) - clock
    return tuple(
        Play(track_id=track_id, played_at_ms=offset + at, context=context)
        for at, track_id, context in reversed(events)
    )


def _album_type(rng: random.Random) -> AlbumType:
    roll = rng.random()
    return "album" if roll < 0.68 else "single" if roll < 0.95 else "compilation"


def _track_count(rng: random.Random, kind: AlbumType, mean: int) -> int:
    if kind == "single":
        return rng.randint(1, min(3, max(1, mean)))
    return max(1, round(mean * rng.uniform(0.7, 1.3)))


def _release_date(rng: random.Random, year: int) -> tuple[str, ReleasePrecision]:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    roll = rng.random()
    # Old releases are often known only to the year.
    if year < 1990 and roll < 0.4 or roll < 0.05:
        return f"{year}", "year"
    if roll < 0.1:
        return f"{year}-{month:02d}", "month"
    return f"{year}-{month:02d}-{day:02d}", "day"


def _markets(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.85:
        return MARKETS
    chosen = [market for market in MARKETS if rng.random() < 0.5]
    return tuple(chosen or ["US"])


def _artist_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if roll < 0.7:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s".replace("ss", "s")
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"


def _album_name(rng: random.Random) -> str:
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"


def _track_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_TRACK_WORDS)}"
    return rng.choice(_TRACK_WORDS)


def _unique(seen: set[str], make: Callable[[], str]) -> str:
    name = base = make()
    suffix = 2
    while name in seen:
        name = f"{base} {suffix}"
        suffix += 1
    seen.add(name)
    return name


def _sample_distinct(
    rng: random.Random, population: Sequence[str], weights: Sequence[float], k: int
) -> tuple[str, ...]:
    chosen: list[str] = []
    while len(chosen) < k:
        pick = rng.choices(population, weights=weights)[0]
        if pick not in chosen:
            chosen.append(pick)
    return tuple(chosen)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
