"""GoTrue's admin users API, the subset `rxsuite accounts` uses: list, get, create and delete users.

Service key only, as in GoTrue. Errors have GoTrue's shape (`{code, error_code, msg}`), not PostgREST's, so a
client written against real Supabase reads them unchanged. The user's role travels in `app_metadata.rx_role`
(only the service role can set app_metadata), which is where the access token's claim comes from.

Delete is GoTrue's too: a hard delete fails with 500 "Database error deleting user" while rows reference the
user (the kit's foreign keys keep medical records); `{"should_soft_delete": true}` keeps the row instead, as
GoTrue's soft delete does: `deleted_at` set, the e-mail replaced by a hash of id and e-mail (so the address is
free again), no password, metadata emptied, every refresh token deleted. The user can no longer sign in or
refresh; get and list still return it, with `deleted_at`; soft-deleting it again answers 200.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.app.auth import user_json
from sandbox.app.body import JsonRefused, parse_json, read_body
from sandbox.app.context import caller, services
from sandbox.app.db import Conn
from sandbox.app.errors import ApiError
from sandbox.app.passwords import hash_password
from sandbox.app.routing import Routes

router = Routes("/auth/v1/admin")

_ROLES = ("patient", "doctor", "pharmacist")
_COLUMNS = "id, email, role, display_name, created_at, deleted_at"
_MAX_PER_PAGE = 1000


class _AdminError(ApiError):
    """An error answered in GoTrue's shape."""

    def response(self) -> JSONResponse:
        return JSONResponse(self.extra, status_code=self.status, headers=self.headers)


def _error(status: int, error_code: str, msg: str) -> _AdminError:
    return _AdminError(status, error_code, msg, extra={"code": status, "error_code": error_code, "msg": msg})


def _require_service(request: Request) -> None:
    who = caller(request)
    if not who.api_key_ok:
        raise _error(401, "no_authorization", "This endpoint requires a valid API key")
    if who.kind != "service":
        raise _error(403, "not_admin", "User not allowed")


def _user_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["user_id"])
    except ValueError:
        raise _error(404, "user_not_found", "User not found") from None


@router.get("/users")
async def list_users(request: Request) -> JSONResponse:
    _require_service(request)
    page = _positive(request.query_params.get("page"), 1, "page")
    per_page = min(_positive(request.query_params.get("per_page"), 50, "per_page"), _MAX_PER_PAGE)

    async def query(conn: Conn) -> tuple[list[dict[str, Any]], int]:
        rows = await (await conn.execute(
            f"SELECT {_COLUMNS} FROM auth.users ORDER BY created_at, id LIMIT %s OFFSET %s",
            [per_page, (page - 1) * per_page],
        )).fetchall()
        total = await (await conn.execute("SELECT count(*) AS n FROM auth.users")).fetchone()
        return rows, int(total["n"]) if total else 0

    rows, total = await services(request).db.read(query)
    return JSONResponse({"users": [user_json(row) for row in rows], "aud": "authenticated"},
                        headers={"X-Total-Count": str(total)})


@router.get("/users/{user_id}")
async def get_user(request: Request) -> JSONResponse:
    _require_service(request)
    user_id = _user_id(request)

    async def query(conn: Conn) -> dict[str, Any] | None:
        return await (await conn.execute(f"SELECT {_COLUMNS} FROM auth.users WHERE id = %s", [user_id])).fetchone()

    row = await services(request).db.read(query)
    if row is None:
        raise _error(404, "user_not_found", "User not found")
    return JSONResponse(user_json(row))


@router.post("/users")
async def create_user(request: Request) -> JSONResponse:
    _require_service(request)
    body = await _body(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or "@" not in email or not email.strip():
        raise _error(400, "validation_failed", "Unable to validate email address: invalid format")
    if not isinstance(password, str) or len(password) < 6:
        raise _error(422, "weak_password", "Password should be at least 6 characters.")
    app_metadata = body.get("app_metadata") or {}
    role = app_metadata.get("rx_role") if isinstance(app_metadata, dict) else None
    if role not in _ROLES:
        raise _error(400, "validation_failed", f"app_metadata.rx_role must be one of {', '.join(_ROLES)}")
    user_metadata = body.get("user_metadata") or {}
    name = user_metadata.get("display_name") if isinstance(user_metadata, dict) else None
    display_name = name if isinstance(name, str) and name else email.split("@")[0]
    hashed = hash_password(password)

    async def insert(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(
            "INSERT INTO auth.users (email, role, password_hash, display_name) VALUES (%s, %s, %s, %s)"
            f" ON CONFLICT (email) DO NOTHING RETURNING {_COLUMNS}",
            [email.strip().lower(), role, hashed, display_name],
        )
        return await cursor.fetchone()

    row = await services(request).db.write(insert)
    if row is None:
        raise _error(422, "email_exists", "A user with this email address has already been registered")
    return JSONResponse(user_json(row))


@router.delete("/users/{user_id}")
async def delete_user(request: Request) -> JSONResponse:
    _require_service(request)
    user_id = _user_id(request)
    soft = await _should_soft_delete(request)

    async def delete(conn: Conn) -> bool:
        try:
            cursor = await conn.execute("DELETE FROM auth.users WHERE id = %s RETURNING id", [user_id])
        except psycopg.errors.ForeignKeyViolation:
            raise _error(500, "unexpected_failure", "Database error deleting user") from None
        return await cursor.fetchone() is not None

    async def soft_delete(conn: Conn) -> bool:
        async with conn.transaction():
            cursor = await conn.execute("SELECT deleted_at FROM auth.users WHERE id = %s FOR UPDATE", [user_id])
            row = await cursor.fetchone()
            if row is None:
                return False
            if row["deleted_at"] is None:
                await conn.execute(
                    "UPDATE auth.users SET email = encode(sha256(convert_to(id::text || email, 'UTF8')), 'hex'),"
                    " password_hash = '', deleted_at = now() WHERE id = %s", [user_id])
                await conn.execute("DELETE FROM auth.refresh_tokens WHERE user_id = %s", [user_id])
        return True

    if not await services(request).db.write(soft_delete if soft else delete):
        raise _error(404, "user_not_found", "User not found")
    return JSONResponse({})


async def _should_soft_delete(request: Request) -> bool:
    """GoTrue's delete body: none (a hard delete) or `{"should_soft_delete": <bool>}`."""
    raw = await read_body(request)
    if not raw:
        return False
    flag = _json_object(raw).get("should_soft_delete", False)
    if not isinstance(flag, bool):
        raise _error(400, "bad_json", "Could not parse request body as JSON: should_soft_delete must be a boolean")
    return flag


async def _body(request: Request) -> dict[str, Any]:
    return _json_object(await read_body(request))


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = parse_json(raw)
    except JsonRefused:
        body = None
    if not isinstance(body, dict):
        raise _error(400, "bad_json", "Could not parse request body as JSON: send a JSON object")
    return body


def _positive(raw: str | None, default: int, name: str) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise _error(400, "validation_failed", f"{name} must be a positive integer")
    return int(raw)
