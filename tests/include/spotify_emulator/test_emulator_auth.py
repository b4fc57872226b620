"""The accounts service and Web API authentication: grants, expiry, wrong secrets, revocation."""

from __future__ import annotations

import base64
import time

import httpx
from spotify_emulator_support import SMALL, Api

from spotify_emulator.config import ClientApp, EmulatorConfig, RefreshGrant
from spotify_emulator.testing import EmulatorHandle, run_emulator


def _token(handle: EmulatorHandle, **data: str) -> httpx.Response:
    return httpx.post(
        handle.token_url, data=data, auth=(handle.client_id, handle.client_secret), timeout=5
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_client_credentials_by_basic_auth_and_by_form_fields(extended: EmulatorHandle) -> None:
    by_header = _token(extended, grant_type="client_credentials")
    by_form = httpx.post(
        extended.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": extended.client_id,
            "client_secret": extended.client_secret,
        },
    )
    for response in (by_header, by_form):
        assert response.status_code == 200
        body = response.json()
        assert body.keys() == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        artist = httpx.get(
            f"{extended.api_url}/artists/{extended.artist_ids()[0]}",
            headers=_bearer(body["access_token"]),
        )
        assert artist.status_code == 200


def test_refresh_token_grant_gives_a_user_token_with_scope(extended: EmulatorHandle) -> None:
    response = _token(extended, grant_type="refresh_token", refresh_token=extended.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert "user-read-recently-played" in body["scope"].split()
    me = httpx.get(f"{extended.api_url}/me", headers=_bearer(body["access_token"]))
    assert me.json()["id"] == extended.user_id


def test_wrong_credentials_and_grants_are_refused_like_spotify(extended: EmulatorHandle) -> None:
    wrong_secret = httpx.post(
        extended.token_url,
        data={"grant_type": "client_credentials"},
        auth=(extended.client_id, "not-the-secret"),
    )
    assert wrong_secret.status_code == 400
    assert wrong_secret.json() == {
        "error": "invalid_client",
        "error_description": "Invalid client secret",
    }
    unknown_client = httpx.post(
        extended.token_url, data={"grant_type": "client_credentials"}, auth=("nobody", "x")
    )
    assert unknown_client.status_code == 400
    assert unknown_client.json() == {
        "error": "invalid_client",
        "error_description": "Invalid client",
    }
    garbled = httpx.post(
        extended.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    )
    assert garbled.json()["error"] == "invalid_client"
    bad_refresh = _token(extended, grant_type="refresh_token", refresh_token="never-issued")
    assert bad_refresh.status_code == 400
    assert bad_refresh.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid refresh token",
    }
    no_grant = _token(extended, grant_type="password")
    assert no_grant.status_code == 400
    assert no_grant.json()["error"] == "unsupported_grant_type"


def test_missing_and_unknown_tokens_get_401(extended: EmulatorHandle) -> None:
    url = f"{extended.api_url}/artists/{extended.artist_ids()[0]}"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"error": {"status": 401, "message": "No token provided"}}
    unknown = httpx.get(url, headers=_bearer("BQ-made-up"))
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"] == "Invalid access token"


def test_app_tokens_cannot_act_for_a_user(ext_api: Api) -> None:
    playlist = next(iter(ext_api.handle.catalog.playlists))
    for method, path in (
        ("GET", "/me"),
        ("GET", "/me/player/recently-played"),
        ("POST", f"/playlists/{playlist}/items"),
    ):
        response = ext_api.call(method, path, json={"uris": []})
        assert response.status_code == 403
        assert "user authentication" in response.json()["error"]["message"]


def test_token_expiry() -> None:
    with run_emulator(catalog=SMALL, token_ttl_s=1) as emulator:
        issued_at = time.monotonic()
        body = _token(emulator, grant_type="client_credentials").json()
        assert body["expires_in"] == 1
        url = f"{emulator.api_url}/artists/{emulator.artist_ids()[0]}"
        assert httpx.get(url, headers=_bearer(body["access_token"])).status_code == 200
        time.sleep(max(0.0, issued_at + 1.1 - time.monotonic()))
        expired = httpx.get(url, headers=_bearer(body["access_token"]))
        assert expired.status_code == 401
        assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}
        renewed = _token(emulator, grant_type="client_credentials").json()["access_token"]
        assert httpx.get(url, headers=_bearer(renewed)).status_code == 200


def test_revoked_refresh_token_and_its_tokens_stop_working() -> None:
    with run_emulator(catalog=SMALL) as emulator:
        user_token = _token(
            emulator, grant_type="refresh_token", refresh_token=emulator.refresh_token
        ).json()["access_token"]
        app_token = _token(emulator, grant_type="client_credentials").json()["access_token"]
        assert emulator.revoke(refresh_token=emulator.refresh_token) == 2  # grant + its token
        me = httpx.get(f"{emulator.api_url}/me", headers=_bearer(user_token))
        assert me.status_code == 401
        again = _token(emulator, grant_type="refresh_token", refresh_token=emulator.refresh_token)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        # The app itself is still registered.
        artist = f"{emulator.api_url}/artists/{emulator.artist_ids()[0]}"
        assert httpx.get(artist, headers=_bearer(app_token)).status_code == 200


def test_revoked_client_loses_tokens_and_logins() -> None:
    config = EmulatorConfig(
        rate_limit=None,
        clients=(ClientApp("demo-client", "demo-secret"), ClientApp("other-app", "other-secret")),
    )
    with run_emulator(catalog=SMALL, config=config) as emulator:
        app_token = _token(emulator, grant_type="client_credentials").json()["access_token"]
        other = httpx.post(
            emulator.token_url,
            data={"grant_type": "client_credentials"},
            auth=("other-app", "other-secret"),
        ).json()["access_token"]
        emulator.revoke(client_id=emulator.client_id)
        artist = f"{emulator.api_url}/artists/{emulator.artist_ids()[0]}"
        assert httpx.get(artist, headers=_bearer(app_token)).status_code == 401
        login = _token(emulator, grant_type="client_credentials")
        assert login.status_code == 400 and login.json()["error"] == "invalid_client"
        assert httpx.get(artist, headers=_bearer(other)).status_code == 200


def test_missing_scope_is_refused() -> None:
    config = EmulatorConfig(
        rate_limit=None, refresh_tokens=(RefreshGrant("narrow", scope="user-read-private"),)
    )
    with run_emulator(catalog=SMALL, config=config) as emulator:
        assert emulator.refresh_token == "narrow"
        token = _token(emulator, grant_type="refresh_token", refresh_token="narrow").json()
        assert token["scope"] == "user-read-private"
        headers = _bearer(token["access_token"])
        assert httpx.get(f"{emulator.api_url}/me", headers=headers).status_code == 200
        played = httpx.get(f"{emulator.api_url}/me/player/recently-played", headers=headers)
        assert played.status_code == 403
        assert played.json()["error"]["message"] == "Insufficient client scope"
