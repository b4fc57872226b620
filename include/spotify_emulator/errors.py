"""The two error shapes of the real service.

The Web API answers ``{"error": {"status": N, "message": "..."}}``; the accounts service answers
OAuth-style ``{"error": "invalid_client", "error_description": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


class SpotifyError(Exception):
    """A Web API error response."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        return error_body(self.status, self.message)


class AccountsError(Exception):
    """An accounts-service (``/api/token``) error response."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> bytes:
        return json.dumps({"error": self.error, "error_description": self.description}).encode()


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": {"status": status, "message": message}}).encode()


# Messages the real API uses, kept in one place so tests and clients can refer to them.
NO_TOKEN = "No token provided"  # noqa: S105 - an error message, not a secret
INVALID_TOKEN = "Invalid access token"  # noqa: S105 - idem
EXPIRED_TOKEN = "The access token expired"  # noqa: S105 - idem
INVALID_ID = "invalid id"
NOT_FOUND = "Resource not found"
SERVICE_NOT_FOUND = "Service not found"
FORBIDDEN = "Forbidden"
NEEDS_USER = "This request requires user authentication."
INSUFFICIENT_SCOPE = "Insufficient client scope"
RATE_LIMITED = "API rate limit exceeded"
