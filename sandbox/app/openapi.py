"""The platform API's own OpenAPI 3.0 description, served at ``GET /openapi.json``.

The routes are plain Starlette (no per-request dependency solving), so the description is written here, from the
same tables and limits the handlers use. tests/test_app_fuzz.py fuzzes the app from it with schemathesis and checks
every answer against it, so a response code or body the handlers can give and this page does not name is a test
failure.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.app.context import services
from sandbox.app.rest import MAX_INSERT_ROWS
from sandbox.app.routing import Routes
from sandbox.app.tables import TABLES

__all__ = ["openapi_document", "router"]

router = Routes()

_JSON = "application/json"
_REASONS = {
    400: "the request is malformed (bad JSON, filter, field or header); the message says what",
    401: "no valid apikey, or no valid JWT where a signed-in user is needed",
    402: "the card was declined",
    403: "the caller may not do this",
    404: "no such table, or no row the caller may see",
    405: "the method is not allowed here",
    406: "one object was asked for (Accept: application/vnd.pgrst.object+json) but not exactly one row matched, or the "
         "Accept media type or the schema profile is not served",
    409: "the change conflicts with the row's state (e.g. an invalid status transition)",
    413: "the body is larger than the limit",
    416: "the requested range (offset) starts past the end of the rows counted",
    429: "too many requests (or failed sign-ins); retry after Retry-After seconds",
    502: "the payment provider refused the request",
    503: "the database or the payment provider is unavailable; retry after Retry-After seconds",
}
_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {},
        "hint": {"type": "string", "nullable": True},
    },
}
# GoTrue's error without X-Supabase-Api-Version (with it, the body is {code, message}: the Error shape)
_AUTH_ERROR = {
    "anyOf": [
        {"$ref": "#/components/schemas/Error"},
        {
            "type": "object",
            "required": ["code", "error_code", "msg"],
            "properties": {"code": {"type": "integer"}, "error_code": {"type": "string"}, "msg": {"type": "string"}},
        },
    ]
}
_USER = {
    "type": "object",
    "required": ["id", "aud", "role", "email", "app_metadata", "user_metadata", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "aud": {"type": "string"},
        "role": {"type": "string"},
        "email": {"type": "string"},
        "app_metadata": {"type": "object"},
        "user_metadata": {"type": "object"},
        "created_at": {"type": "string"},
    },
}
_SESSION = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {"type": "integer"},
        "expires_at": {"type": "integer"},
        "refresh_token": {"type": "string"},
        "user": {"$ref": "#/components/schemas/User"},
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status", "region", "version", "database"],
    "properties": {
        "status": {"type": "string"},
        "region": {"type": "string"},
        "version": {"type": "string"},
        "database": {"type": "object"},
    },
}
_ROWS = {"type": "array", "items": {"type": "object"}}
_ROW_OR_ROWS = {
    "oneOf": [
        {"type": "object"},
        {"type": "array", "items": {"type": "object"}, "minItems": 1, "maxItems": MAX_INSERT_ROWS},
    ]
}


def _error(status: int) -> dict[str, Any]:
    return {"description": _REASONS[status], "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    return {**ok, **{str(status): _error(status) for status in sorted({*errors, 429})}}


def _auth_responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    """GoTrue's endpoints: their errors in GoTrue's shape (a missing apikey is still the gateway's Error)."""
    schema = {"$ref": "#/components/schemas/AuthError"}
    return {**ok, **{str(status): {"description": _REASONS[status], "content": {_JSON: {"schema": schema}}}
                     for status in sorted({*errors, 429})}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": schema}}}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


_TABLE = {"name": "table", "in": "path", "required": True, "schema": {"type": "string", "enum": sorted(TABLES)}}
_FILTER = _query("id", "a PostgREST filter on the id column, e.g. eq.<uuid> or in.(<uuid>,<uuid>)")
_PREFER = {"name": "Prefer", "in": "header", "required": False,
           "schema": {"type": "string", "enum": ["return=representation", "return=minimal"]}}
_SECURED: list[dict[str, list[str]]] = [{"apikey": []}, {"apikey": [], "bearer": []}]


def _paths() -> dict[str, Any]:
    return {
        "/health": {"get": {
            "operationId": "health", "security": [],
            "responses": _responses({"200": _json("the region, version and database state", _HEALTH)}),
        }},
        "/auth/v1/token": {"post": {
            "operationId": "token", "security": [{"apikey": []}],
            "parameters": [{"name": "grant_type", "in": "query", "required": True,
                            "schema": {"type": "string", "enum": ["password", "refresh_token"]}}],
            "requestBody": _body({"type": "object", "properties": {
                "email": {"type": "string"}, "password": {"type": "string"}, "refresh_token": {"type": "string"}}}),
            "responses": _auth_responses(
                {"200": _json("a new session", {"$ref": "#/components/schemas/Session"})}, 400, 401, 413, 503),
        }},
        "/auth/v1/user": {"get": {
            "operationId": "currentUser", "security": [{"apikey": [], "bearer": []}],
            "responses": _auth_responses(
                {"200": _json("the signed-in user", {"$ref": "#/components/schemas/User"})}, 401, 403, 404, 503),
        }},
        "/auth/v1/logout": {"post": {
            "operationId": "logout", "security": [{"apikey": [], "bearer": []}],
            "responses": _auth_responses({"204": {"description": "every refresh token of the user is revoked"}},
                                         401, 403, 503),
        }},
        "/rest/v1/{table}": {
            "get": {
                "operationId": "readRows", "security": _SECURED,
                "parameters": [_TABLE, _query("select", "columns, comma-separated"),
                               _query("order", "column[.asc|.desc][.nullsfirst|.nullslast]"),
                               _query("limit", "at most this many rows", pattern="^[0-9]{1,6}$"),
                               _query("offset", "skip this many rows", pattern="^[0-9]{1,6}$"), _FILTER],
                "responses": _responses({"200": _json("the rows the caller may see", _ROWS),
                                         "206": _json("part of the rows counted (Prefer: count=...)", _ROWS)},
                                        400, 401, 403, 404, 406, 416, 503),
            },
            "post": {
                "operationId": "insertRows", "security": _SECURED, "parameters": [_TABLE, _PREFER],
                "requestBody": _body(_ROW_OR_ROWS),
                "responses": _responses({"201": {"description": "created; the rows with Prefer: return=representation",
                                                 "content": {_JSON: {"schema": _ROWS}}}},
                                        400, 401, 403, 404, 406, 409, 413, 503),
            },
            "patch": {
                "operationId": "updateRows", "security": _SECURED, "parameters": [_TABLE, _FILTER, _PREFER],
                "requestBody": _body({"type": "object", "properties": {
                    "status": {"type": "string"}, "notes": {"type": "string", "nullable": True}}}),
                "responses": _responses({"200": _json("the changed rows", _ROWS),
                                         "204": {"description": "changed (no representation asked for)"}},
                                        400, 401, 403, 404, 406, 409, 413, 503),
            },
            "delete": {
                "operationId": "deleteRows", "security": _SECURED, "parameters": [_TABLE],
                "responses": _responses({}, 405),
            },
        },
        "/functions/v1/create-payment-intent": {"post": {
            "operationId": "createPaymentIntent", "security": [{"apikey": [], "bearer": []}],
            "requestBody": _body({"type": "object", "required": ["prescription_id"],
                                  "properties": {"prescription_id": {"type": "string", "format": "uuid"}}}),
            "responses": _responses({"200": _json("the provider's payment intent", {
                "type": "object", "required": ["payment_intent_id", "amount", "currency"],
                "properties": {"payment_intent_id": {"type": "string"},
                               "client_secret": {"type": "string", "nullable": True},
                               "amount": {"type": "integer"}, "currency": {"type": "string"}}})},
                400, 401, 403, 404, 409, 413, 502, 503),
        }},
        "/functions/v1/confirm-payment": {"post": {
            "operationId": "confirmPayment", "security": [{"apikey": [], "bearer": []}],
            "requestBody": _body({"type": "object", "required": ["payment_intent_id", "card_number"], "properties": {
                "payment_intent_id": {"type": "string"}, "card_number": {"type": "string"}}}),
            "responses": _responses({"200": _json("the payment's status", {
                "type": "object", "required": ["payment_intent_id", "status"],
                "properties": {"payment_intent_id": {"type": "string"}, "status": {"type": "string"}}})},
                400, 401, 402, 403, 404, 413, 502, 503),
        }},
        "/functions/v1/payment-webhook": {"post": {
            "operationId": "paymentWebhook", "security": [],
            "parameters": [{"name": "Stripe-Signature", "in": "header", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": _body({"type": "object"}),
            "responses": _responses({"200": _json("the event was applied (or ignored)", {
                "type": "object", "required": ["received", "outcome"],
                "properties": {"received": {"type": "boolean"}, "outcome": {"type": "string"}}})},
                400, 413, 503),
        }},
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The description of the JSON API (the HTML pages and the Realtime socket are not part of it)."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Rx sandbox platform API", "version": version,
                 "description": "Supabase-shaped: GoTrue auth, a PostgREST subset, Edge Functions."},
        "paths": _paths(),
        "components": {
            "schemas": {"Error": _ERROR, "AuthError": _AUTH_ERROR, "User": _USER, "Session": _SESSION},
            "securitySchemes": {
                "apikey": {"type": "apiKey", "in": "header", "name": "apikey"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


@router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(services(request).settings.version))
