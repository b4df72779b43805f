"""The API's error shapes: PostgREST's ``{code, message, details, hint}`` for data and functions, and GoTrue's for
``/auth/v1`` (AuthError), each with an HTTP status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"


class ApiError(Exception):
    """Raised anywhere in a request; turned into a JSON response by the app's exception handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> JSONResponse:
        body = {"code": self.code, "message": self.message, "details": self.details, "hint": self.hint}
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, headers=self.headers)

    def response_to(self, request_headers: Mapping[str, str]) -> JSONResponse:
        """The response for a request with these headers (only GoTrue's shape depends on them)."""
        return self.response()


class AuthError(ApiError):
    """GoTrue's error: ``{"code": <status>, "error_code", "msg"}``, or ``{"code": <error_code>, "message"}`` (and
    the version echoed in a header) when the client sends ``X-Supabase-Api-Version: 2024-01-01`` or later, as
    supabase-js and supabase-py do."""

    def __init__(self, status: int, error_code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, error_code, message, headers=headers)

    def response(self) -> JSONResponse:
        return self.response_to({})

    def response_to(self, request_headers: Mapping[str, str]) -> JSONResponse:
        version = request_headers.get(API_VERSION_HEADER.lower(), "")
        if len(version) == len(API_VERSION_2024) and version >= API_VERSION_2024:
            body: dict[str, Any] = {"code": self.code, "message": self.message}
            headers = {**self.headers, API_VERSION_HEADER: API_VERSION_2024}
            return JSONResponse(body, status_code=self.status, headers=headers)
        body = {"code": self.status, "error_code": self.code, "msg": self.message}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def error_response(status: int, code: str, message: str, *, hint: str | None = None) -> JSONResponse:
    return ApiError(status, code, message, hint=hint).response()


def bad_request(message: str, *, code: str = "PGRST100", hint: str | None = None, details: Any = None) -> ApiError:
    return ApiError(400, code, message, hint=hint, details=details)


def unauthorized(message: str, *, code: str = "unauthorized", hint: str | None = None) -> ApiError:
    return ApiError(401, code, message, hint=hint, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str, *, code: str = "42501", hint: str | None = None) -> ApiError:
    return ApiError(403, code, message, hint=hint)


def not_found(message: str, *, code: str = "PGRST116", hint: str | None = None) -> ApiError:
    return ApiError(404, code, message, hint=hint)


def conflict(
    message: str, *, code: str = "invalid_transition", details: Any = None, hint: str | None = None
) -> ApiError:
    return ApiError(409, code, message, details=details, hint=hint)


def database_unavailable(reason: str) -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "the database is unavailable; retry shortly",
        details=reason,
        headers={"Retry-After": "1"},
    )
