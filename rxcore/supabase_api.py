"""The few calls every job that talks to a Supabase-shaped platform makes outside its load users: a password
sign-in (GoTrue), the claims of an access token, and the role an account has there.

Headers only as Supabase's clients send them: `apikey` on every request, `Authorization: Bearer` for a user's
or the service role's calls. The sandbox serves the same shapes, so the code is the same for both.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

__all__ = ["SignInError", "account_role", "api_headers", "sign_in", "token_claims"]


class SignInError(Exception):
    """A sign-in the platform refused; the message is its own (`Invalid login credentials`, a 429, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def api_headers(key: str, bearer: str | None = None) -> dict[str, str]:
    """`apikey` and, for a signed-in or service-role call, `Authorization` (Supabase's clients send both)."""
    return {"apikey": key, "Authorization": f"Bearer {bearer or key}"}


def sign_in(client: httpx.Client, anon_key: str, email: str, password: str) -> dict[str, Any]:
    """GoTrue's password grant: the session (`access_token`, `refresh_token`, `user`); SignInError when refused."""
    response = client.post("/auth/v1/token", params={"grant_type": "password"},
                           headers={"apikey": anon_key}, json={"email": email, "password": password})
    if response.status_code != 200:
        raise SignInError(response.status_code, _message(response))
    session: dict[str, Any] = response.json()
    return session


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified (the platform verifies it; we only read which role it carries)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def account_role(session: dict[str, Any]) -> str | None:
    """The platform role (patient, doctor, pharmacist) of a session: the access token's `app_metadata.rx_role`
    claim, else the user's app_metadata, else its user_metadata (where a project without custom claims keeps it)."""
    claims = token_claims(str(session.get("access_token", "")))
    found = session.get("user")
    user: dict[str, Any] = found if isinstance(found, dict) else {}
    for source in (claims.get("app_metadata"), user.get("app_metadata"), user.get("user_metadata")):
        if isinstance(source, dict) and isinstance(source.get("rx_role"), str):
            return str(source["rx_role"])
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("error_description", "msg", "message", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return response.reason_phrase
