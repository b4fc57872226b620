"""Typed Spotify payloads, parsed leniently where the real API is lenient.

Rules taken from what the API really sends (the captured responses in the team's shared data):
fields the development tier withholds (``popularity``, ``followers``, ``available_markets``) are
``None`` when absent, never zero; album objects nested in tracks may lack ``release_date`` and
``total_tracks``; counts sometimes come as whole floats (``63.0``). Otherwise numbers and
booleans are strict: ``true`` is not ``1`` and ``"1000"`` is not a number. What fails validation is quarantined by
the caller with the reason (the field and the problem, never the value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    ValidationError,
    field_validator,
)

from spotify_agent.core.quarantine import QuarantinedItem
from spotify_agent.core.run_conf import describe_errors
from spotify_agent.spotify.ids import SPOTIFY_ID_PATTERN, SpotifyId

__all__ = ["SPOTIFY_ID_PATTERN", "SpotifyId", "Tier"]

Tier = Literal["extended", "development"]


def _number_not_bool_or_text(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError(f"must be a JSON number, not {type(value).__name__}")
    return value


# An integer, or a float with no fraction (the captured responses hold 63.0 for a popularity of
# 63); never a boolean or text, which pydantic's lax mode would turn into a number.
WholeNumber = Annotated[int, BeforeValidator(_number_not_bool_or_text)]


class SpotifyObject(BaseModel):
    # Unknown fields are ignored: Spotify adds fields without notice.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Followers(SpotifyObject):
    total: WholeNumber | None = None


class SimplifiedArtist(SpotifyObject):
    id: SpotifyId
    name: str


class Artist(SpotifyObject):
    id: SpotifyId
    name: str
    genres: tuple[str, ...] = ()
    popularity: WholeNumber | None = None
    followers: Followers | None = None

    @property
    def follower_count(self) -> int | None:
        return self.followers.total if self.followers is not None else None


class SimplifiedAlbum(SpotifyObject):
    id: SpotifyId
    name: str
    album_type: str | None = None
    album_group: str | None = None
    release_date: str | None = None
    release_date_precision: Literal["year", "month", "day"] | None = None
    total_tracks: WholeNumber | None = None
    artists: tuple[SimplifiedArtist, ...] = ()
    available_markets: tuple[str, ...] | None = None

    @field_validator("release_date", mode="before")
    @classmethod
    def _release_date_as_text(cls, value: Any) -> Any:
        # Early API versions (still in real captures) sent {"year": 1983, "month": null, ...}.
        if isinstance(value, Mapping):
            parts = [value.get("year"), value.get("month"), value.get("day")]
            given = [f"{int(part):02d}" for part in parts if part is not None]
            return "-".join(given) if given else None
        return value


class Track(SpotifyObject):
    id: SpotifyId
    name: str
    duration_ms: WholeNumber
    explicit: StrictBool = False
    popularity: WholeNumber | None = None
    artists: tuple[SimplifiedArtist, ...] = ()
    album: SimplifiedAlbum | None = None
    available_markets: tuple[str, ...] | None = None

    @property
    def uri(self) -> str:
        return f"spotify:track:{self.id}"


class PlayHistory(SpotifyObject):
    track: Track
    played_at: datetime
    context: Mapping[str, Any] | None = None


ModelT = TypeVar("ModelT", bound=SpotifyObject)


@dataclass
class Parsed(Generic[ModelT]):
    """Valid objects, and the payloads that were not, ready for the quarantine."""

    valid: list[ModelT] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)


def parse_objects(model: type[ModelT], payloads: Iterable[Any], *, source: str) -> Parsed[ModelT]:
    """Parse every payload; one bad object never hides the good ones next to it.

    ``None`` entries (Spotify's answer for an unknown id in a several-ids request) are
    quarantined too, so a missing object is visible instead of silently dropped.
    """
    parsed: Parsed[ModelT] = Parsed()
    for payload in payloads:
        if payload is None:
            parsed.quarantined.append(QuarantinedItem(source, None, "null object in response"))
            continue
        try:
            parsed.valid.append(model.model_validate(payload))
        except ValidationError as error:
            problems = describe_errors(error, show_input=False)
            first_field = str(error.errors()[0]["loc"][0]) if error.errors()[0]["loc"] else None
            parsed.quarantined.append(
                QuarantinedItem(source, payload, "; ".join(problems), field=first_field)
            )
    return parsed
