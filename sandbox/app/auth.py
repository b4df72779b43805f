"""GoTrue-shaped auth: password and refresh-token grants, the current user, logout.

Refresh tokens are opaque, stored only as SHA-256 hashes, and rotate on every use (a used one is revoked).
Requests, responses and errors (sandbox.app.errors.AuthError) are GoTrue's as supabase-js and supabase-py use them;
``POST /logout`` revokes every session of the user whatever its ``scope`` (tokens here carry no session id).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.app.context import Services, caller, client_address, json_object, services
from sandbox.app.db import Conn
from sandbox.app.errors import AuthError
from sandbox.app.identity import Caller, issue_access_token
from sandbox.app.passwords import verify_password
from sandbox.app.routing import Routes

router = Routes("/auth/v1")

_USER_COLUMNS = "id, email, role, display_name, created_at, deleted_at"


def _validation_failed(message: str) -> AuthError:
    return AuthError(400, "validation_failed", message)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """GoTrue's user object (the fields supabase-py's ``User`` model requires, and those supabase-js reads). A
    soft-deleted user's, as GoTrue's admin API still returns it: ``deleted_at`` set, the e-mail obfuscated (the
    row's), both metadata emptied."""
    created = row["created_at"].isoformat()
    deleted = row.get("deleted_at")
    user = {
        "id": str(row["id"]),
        "aud": "authenticated",
        "role": "authenticated",
        "email": row["email"],
        "email_confirmed_at": created,
        "phone": "",
        "confirmed_at": created,
        "app_metadata": {} if deleted else {"provider": "email", "providers": ["email"], "rx_role": row["role"]},
        "user_metadata": {} if deleted else {"display_name": row["display_name"]},
        "identities": [],
        "created_at": created,
        "updated_at": created,
        "is_anonymous": False,
    }
    if deleted:
        user["deleted_at"] = deleted.isoformat()
    return user


async def password_sign_in(svc: Services, email: str, password: str, address: str) -> dict[str, Any]:
    """Check the credentials and open a session; shared by the API and the sign-in page. Failed attempts count
    against the account and the client ``address`` (429 once either has used up its allowance)."""
    account = email.strip().lower()
    svc.sign_in_throttle.check(account, address)

    async def lookup(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(
            f"SELECT {_USER_COLUMNS}, password_hash FROM auth.users WHERE email = %s", [account]
        )
        return await cursor.fetchone()

    row = await svc.db.read(lookup)
    if row is None or not verify_password(password, row["password_hash"]):
        svc.sign_in_throttle.failed(account, address)
        raise AuthError(400, "invalid_credentials", "Invalid login credentials")
    return await _open_session(svc, row)


async def _open_session(svc: Services, row: dict[str, Any]) -> dict[str, Any]:
    refresh_token = secrets.token_urlsafe(32)

    async def store(conn: Conn) -> None:
        await conn.execute(
            "INSERT INTO auth.refresh_tokens (token_hash, user_id) VALUES (%s, %s)", [_hash(refresh_token), row["id"]]
        )

    await svc.db.write(store)
    access_token, expires_at = issue_access_token(
        svc.settings, user_id=row["id"], email=row["email"], rx_role=row["role"]
    )
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": svc.settings.access_token_ttl_s,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user_json(row),
    }


@router.post("/token")
async def token(request: Request) -> JSONResponse:
    caller(request).require_api_key()
    grant_type = request.query_params.get("grant_type")
    body = await json_object(request)
    svc = services(request)
    if grant_type == "password":
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not email:
            raise _validation_failed("missing email or phone")
        if not isinstance(password, str) or not password:
            raise _validation_failed("missing password")
        return JSONResponse(await password_sign_in(svc, email, password, client_address(request.scope)))
    if grant_type == "refresh_token":
        presented = body.get("refresh_token")
        if not isinstance(presented, str) or not presented:
            raise AuthError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        return JSONResponse(await _rotate(svc, presented))
    raise AuthError(400, "invalid_credentials", "unsupported_grant_type")


async def _rotate(svc: Services, presented: str) -> dict[str, Any]:
    async def revoke(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(
            "WITH used AS (UPDATE auth.refresh_tokens SET revoked_at = now()"
            " WHERE token_hash = %s AND revoked_at IS NULL RETURNING user_id)"
            f" SELECT {_USER_COLUMNS} FROM auth.users WHERE id = (SELECT user_id FROM used)",
            [_hash(presented)],
        )
        return await cursor.fetchone()

    async def revoked(conn: Conn) -> bool:
        cursor = await conn.execute("SELECT 1 FROM auth.refresh_tokens WHERE token_hash = %s", [_hash(presented)])
        return await cursor.fetchone() is not None

    row = await svc.db.write(revoke)
    if row is None:
        if await svc.db.read(revoked):
            raise AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
        raise AuthError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
    return await _open_session(svc, row)


def _signed_in(request: Request) -> Caller:
    """The signed-in caller, or GoTrue's 401 (no token) / 403 (a token that does not verify)."""
    who = caller(request).require_api_key()
    if who.error:
        raise AuthError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {who.error}")
    if who.kind != "user":
        raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
    return who


@router.get("/user")
async def current_user(request: Request) -> JSONResponse:
    who = _signed_in(request)

    async def lookup(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(f"SELECT {_USER_COLUMNS} FROM auth.users WHERE id = %s", [who.user_id])
        return await cursor.fetchone()

    row = await services(request).db.read(lookup)
    if row is None:
        raise AuthError(404, "user_not_found", "User from sub claim in JWT does not exist")
    if row["deleted_at"] is not None:  # soft delete ended its sessions; GoTrue's answer for a token of one
        raise AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist")
    return JSONResponse(user_json(row))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Revoke every refresh token of the user; access tokens stay valid until they expire (as in GoTrue)."""
    who = _signed_in(request)
    await revoke_sessions(services(request), who.user_id)
    return Response(status_code=204)


async def revoke_sessions(svc: Services, user_id: uuid.UUID | None) -> None:
    async def revoke(conn: Conn) -> None:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", [user_id]
        )

    await svc.db.write(revoke)
