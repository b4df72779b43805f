"""Who is calling: API keys, JWT access tokens (HS256, GoTrue-shaped claims) and the request's auth context.

Resolved once per request by the edge middleware and stored in the ASGI scope, so rate limiting and
handlers share one decode and no request needs a database lookup to know its user.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

import jwt

from sandbox.app.errors import ApiError, forbidden, unauthorized
from sandbox.app.settings import Settings

AUDIENCE = "authenticated"
SCOPE_KEY = "rx.auth"
Kind = Literal["none", "anon", "service", "user"]
_VERIFIED_LIMIT = 20_000
# Verified tokens, so a user's repeated requests skip signature checks; expiry is re-checked on every use.
_verified: dict[tuple[str, str], Caller] = {}


@dataclass(frozen=True)
class Caller:
    """The resolved caller: key validity plus, for users, the verified claims; ``error`` explains a bad token."""

    kind: Kind
    api_key_ok: bool
    user_id: uuid.UUID | None = None
    email: str | None = None
    rx_role: str | None = None
    expires_at: int | None = None
    error: str | None = None

    def require_api_key(self) -> Caller:
        if not self.api_key_ok:
            raise unauthorized(
                "missing or invalid API key",
                code="no_api_key",
                hint="send the project's anon key in the 'apikey' header",
            )
        return self

    def require_user(self) -> Caller:
        """The caller must be a signed-in user (with a valid API key)."""
        self.require_api_key()
        if self.error:
            raise unauthorized(self.error, code="bad_jwt", hint="sign in again to get a fresh access token")
        if self.kind != "user":
            raise unauthorized(
                "this endpoint needs a signed-in user",
                code="no_jwt",
                hint="send 'Authorization: Bearer <access_token>' from /auth/v1/token",
            )
        return self

    def require_data_access(self) -> Caller:
        """Users and the service role may read data; a bad token is 401 even with a valid key."""
        self.require_api_key()
        if self.error:
            raise unauthorized(self.error, code="bad_jwt", hint="sign in again to get a fresh access token")
        return self

    def require_role(self, *roles: str) -> Caller:
        self.require_user()
        if self.rx_role not in roles:
            raise forbidden(f"only a {' or '.join(roles)} may do this")
        return self


def issue_access_token(settings: Settings, *, user_id: uuid.UUID, email: str, rx_role: str) -> tuple[str, int]:
    """Return (token, expires_at)."""
    now = int(time.time())
    expires_at = now + settings.access_token_ttl_s
    claims = {
        "aud": AUDIENCE,
        "sub": str(user_id),
        "email": email,
        "role": "authenticated",
        "app_metadata": {"rx_role": rx_role, "provider": "email"},
        "iat": now,
        "exp": expires_at,
        "iss": f"rx-sandbox/{settings.region}",
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), expires_at


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    """Verify signature, expiry and audience; raise ApiError 401 with the reason otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        uuid.UUID(str(claims["sub"]))
    except jwt.ExpiredSignatureError:
        raise unauthorized("JWT expired", code="bad_jwt") from None
    except (jwt.InvalidTokenError, ValueError):
        raise unauthorized("invalid JWT: signature, audience or claims do not verify", code="bad_jwt") from None
    return claims


def resolve_caller(settings: Settings, api_key: str | None, authorization: str | None) -> Caller:
    """Classify the request from its ``apikey`` and ``Authorization`` values."""
    api_key_ok = api_key in (settings.anon_key, settings.service_key)
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return Caller("none", api_key_ok, error="malformed Authorization header: use 'Bearer <token>'")
        token = value.strip()
    if token is None or token == settings.anon_key:
        kind: Kind = "service" if api_key == settings.service_key and token is None else "anon"
        return Caller(kind if api_key_ok else "none", api_key_ok)
    if token == settings.service_key:
        return Caller("service", api_key_ok)
    return caller_from_token(settings, token, api_key_ok=api_key_ok)


def caller_from_token(settings: Settings, token: str, *, api_key_ok: bool) -> Caller:
    cached = _verified.get((settings.jwt_secret, token))
    if cached is not None and (cached.expires_at or 0) > time.time():
        return cached if cached.api_key_ok == api_key_ok else replace(cached, api_key_ok=api_key_ok)
    try:
        claims = decode_access_token(settings, token)
    except ApiError as exc:
        return Caller("none", api_key_ok, error=exc.message)
    metadata = claims.get("app_metadata") or {}
    verified = Caller(
        "user",
        api_key_ok,
        user_id=uuid.UUID(claims["sub"]),
        email=claims.get("email"),
        rx_role=metadata.get("rx_role") if isinstance(metadata, dict) else None,
        expires_at=int(claims["exp"]),
    )
    if len(_verified) >= _VERIFIED_LIMIT:
        _verified.clear()
    _verified[(settings.jwt_secret, token)] = verified
    return verified
