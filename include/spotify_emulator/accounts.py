"""The accounts service: ``POST /api/token`` for client-credentials and refresh-token grants.

Client credentials come in an HTTP Basic ``Authorization`` header (as spotipy sends them) or as
``client_id``/``client_secret`` form fields. A client-credentials token reaches catalogue
endpoints only; a refresh-token grant yields a user token with the grant's scopes.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from spotify_emulator.errors import AccountsError
from spotify_emulator.helpers import emulator, respond

router = APIRouter()


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AccountsError("invalid_client", "Invalid client") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


@router.post("/api/token")
async def token(request: Request) -> Response:
    state = emulator(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    grant_type = form.get("grant_type")
    if not grant_type:
        raise AccountsError("unsupported_grant_type", "grant_type parameter is missing")
    if grant_type not in ("client_credentials", "refresh_token", "authorization_code"):
        raise AccountsError(
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or refresh_token",
        )
    client_id = state.accounts.authenticate_client(*_client_credentials(request, form))
    ttl = state.config.token_ttl_s
    if grant_type == "client_credentials":
        issued = state.accounts.issue(client_id, ttl)
        return respond({"access_token": issued.token, "token_type": "Bearer", "expires_in": ttl})
    if grant_type == "authorization_code":
        # No authorize page here: the emulator's users come with refresh tokens instead.
        raise AccountsError("invalid_grant", "Invalid authorization code")
    grant = state.accounts.grant_for(form.get("refresh_token"), client_id)
    issued = state.accounts.issue(
        client_id,
        ttl,
        user_id=grant.user_id,
        scope=frozenset(grant.scope.split()),
        refresh_token=grant.refresh_token,
    )
    return respond(
        {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": grant.scope,
        }
    )
