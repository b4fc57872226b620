"""Spotify failures become the orchestrator's retry decisions, naming the connection."""

from __future__ import annotations

import pytest
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from spotify_agent.core.errors import PermanentFailure, RetryLater
from spotify_agent.spotify.errors import RetryAfterTooLong, orchestration_errors


def test_a_long_retry_after_becomes_a_retry_after_that_delay() -> None:
    with pytest.raises(RetryLater) as caught, orchestration_errors("spotify_default"):
        raise RetryAfterTooLong(3600, "http://api/v1/artists")
    assert caught.value.retry_after_s == 3600
    assert "spotify_default" in caught.value.reason


def test_429_after_spotipys_own_retries_uses_the_header_or_the_default() -> None:
    with pytest.raises(RetryLater) as caught, orchestration_errors("spotify_default"):
        raise SpotifyException(429, -1, "too many", headers={"Retry-After": "12"})
    assert caught.value.retry_after_s == 12
    with pytest.raises(RetryLater) as caught, orchestration_errors("c", default_retry_after_s=45):
        raise SpotifyException(429, -1, "/v1/artists:\n Max Retries")
    assert caught.value.retry_after_s == 45


def test_wrong_or_revoked_credentials_fail_at_once_naming_the_connection() -> None:
    with pytest.raises(PermanentFailure, match="spotify_default: Spotify refused the credentials"):
        with orchestration_errors("spotify_default"):
            raise SpotifyOauthError(
                "error: invalid_client", error="invalid_client", error_description="Invalid client"
            )


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_fast_with_the_reason(status: int) -> None:
    with pytest.raises(PermanentFailure, match=f"HTTP {status} from Spotify: .*invalid id"):
        with orchestration_errors("spotify_default"):
            raise SpotifyException(status, -1, "https://api/v1/artists/x:\n invalid id")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_keep_the_standard_retries(status: int) -> None:
    with pytest.raises(SpotifyException), orchestration_errors("spotify_default"):
        raise SpotifyException(status, -1, "boom")


def test_a_busy_accounts_service_is_not_a_credentials_problem() -> None:
    # spotipy raises SpotifyOauthError for any HTTP error of the token endpoint, 429 and 5xx too.
    with pytest.raises(SpotifyOauthError), orchestration_errors("spotify_default"):
        raise SpotifyOauthError("error: 503", error=None, error_description="Service Unavailable")


def test_server_errors_that_spotipy_reports_as_429_keep_the_standard_retries() -> None:
    with pytest.raises(SpotifyException), orchestration_errors("spotify_default"):
        raise SpotifyException(
            429, -1, "/v1/artists:\n Max Retries", reason="too many 503 error responses"
        )
