"""GoTrue-shaped auth: password and refresh-token grants, the current user, logout.

Refresh tokens are opaque, stored only as SHA-256 hashes, and rotate on every use (a used one is revoked).
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
from sandbox.app.errors import ApiError, bad_request
from sandbox.app.identity import issue_access_token
from sandbox.app.passwords import verify_password
from sandbox.app.routing import Routes

router = Routes("/auth/v1")

_USER_COLUMNS = "id, email, role, display_name, created_at"


def _invalid_grant(message: str) -> ApiError:
    return ApiError(400, "invalid_grant", message, extra={"error": "invalid_grant", "error_description": message})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "aud": "authenticated",
        "role": "authenticated",
        "email": row["email"],
        "app_metadata": {"provider": "email", "rx_role": row["role"]},
        "user_metadata": {"display_name": row["display_name"]},
        "created_at": row["created_at"].isoformat(),
    }


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
        raise _invalid_grant("Invalid login credentials")
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
        if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
            raise bad_request("'email' and 'password' are required strings", code="validation_failed")
        return JSONResponse(await password_sign_in(svc, email, password, client_address(request.scope)))
    if grant_type == "refresh_token":
        presented = body.get("refresh_token")
        if not isinstance(presented, str) or not presented:
            raise bad_request("'refresh_token' is required", code="validation_failed")
        return JSONResponse(await _rotate(svc, presented))
    raise bad_request(
        f"unsupported grant_type {grant_type!r}",
        code="unsupported_grant_type",
        hint="use ?grant_type=password or ?grant_type=refresh_token",
    )


async def _rotate(svc: Services, presented: str) -> dict[str, Any]:
    async def revoke(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(
            "WITH used AS (UPDATE auth.refresh_tokens SET revoked_at = now()"
            " WHERE token_hash = %s AND revoked_at IS NULL RETURNING user_id)"
            f" SELECT {_USER_COLUMNS} FROM auth.users WHERE id = (SELECT user_id FROM used)",
            [_hash(presented)],
        )
        return await cursor.fetchone()

    row = await svc.db.write(revoke)
    if row is None:
        raise _invalid_grant("Invalid Refresh Token: Refresh Token Not Found or already used")
    return await _open_session(svc, row)


@router.get("/user")
async def current_user(request: Request) -> JSONResponse:
    who = caller(request).require_user()

    async def lookup(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(f"SELECT {_USER_COLUMNS} FROM auth.users WHERE id = %s", [who.user_id])
        return await cursor.fetchone()

    row = await services(request).db.read(lookup)
    if row is None:
        raise ApiError(404, "user_not_found", "the user of this token no longer exists")
    return JSONResponse(user_json(row))


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Revoke every refresh token of the user; access tokens stay valid until they expire (as in GoTrue)."""
    who = caller(request).require_user()
    await revoke_sessions(services(request), who.user_id)
    return Response(status_code=204)


async def revoke_sessions(svc: Services, user_id: uuid.UUID | None) -> None:
    async def revoke(conn: Conn) -> None:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", [user_id]
        )

    await svc.db.write(revoke)
